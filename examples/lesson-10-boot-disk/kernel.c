/*
 * Lesson 10's kernel: the C program boot.S loads from the disk and enters in 32-bit protected mode (flat
 * segments, no paging, interrupts off), linked at 1 MiB as xv6's kernel is.
 *
 * It drives the disk the way xv6's ide.c and bootmain.c do, by polling: IDENTIFY for the model and size, then
 * the record block in the disk's last sector: read it, count this boot, write it back, read it again to be
 * sure. The record outlives the run (kvmstub writes the disk file at once), so the next boot from the same
 * disk finds what this one wrote. Prints over the serial port; exits through port 0xf4 with 0, or 1 when the
 * disk failed.
 */
typedef unsigned char u8;
typedef unsigned short u16;
typedef unsigned int u32;

#define SECTOR 512

#define ATA_DATA    0x1f0
#define ATA_COUNT   0x1f2
#define ATA_LBA0    0x1f3
#define ATA_LBA1    0x1f4
#define ATA_LBA2    0x1f5
#define ATA_DRIVE   0x1f6
#define ATA_STATUS  0x1f7  /* read: status; write: command */

#define ATA_BSY  0x80
#define ATA_DRDY 0x40
#define ATA_DF   0x20
#define ATA_DRQ  0x08
#define ATA_ERR  0x01

#define ATA_CMD_READ     0x20
#define ATA_CMD_WRITE    0x30
#define ATA_CMD_FLUSH    0xe7
#define ATA_CMD_IDENTIFY 0xec

/* The entry boot.S jumps to: a stack of our own, then C. Its CFI says it has no caller, so a backtrace ends here. */
__asm__(".section .text.entry, \"ax\"\n"
        ".globl _start\n"
        "_start:\n"
        "        .cfi_startproc\n"
        "        .cfi_undefined %eip\n"
        "        mov     $stack + 4096, %esp\n"
        "        call    kmain\n"
        "1:      hlt\n"
        "        jmp     1b\n"
        "        .cfi_endproc\n"
        ".previous\n");

static u8 stack[4096] __attribute__((aligned(16), used));

static inline u8 inb(u16 port) {
    u8 v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "d"(port));
    return v;
}

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "d"(port)); }

/* rep insl / rep outsl: `count` 32-bit words between the data port and memory, as xv6 moves a sector. */
static inline void insl(u16 port, void *addr, u32 count) {
    __asm__ volatile("cld; rep insl" : "+D"(addr), "+c"(count) : "d"(port) : "memory");
}

static inline void outsl(u16 port, const void *addr, u32 count) {
    __asm__ volatile("cld; rep outsl" : "+S"(addr), "+c"(count) : "d"(port) : "memory");
}

static void putc(char c) { outb(0x3f8, c); }

static void puts(const char *s) {
    while (*s) putc(*s++);
}

static void putdec(u32 n) {
    char digits[10];
    int i = 0;
    do {
        digits[i++] = '0' + n % 10;
        n /= 10;
    } while (n);
    while (i) putc(digits[--i]);
}

static int same(const char *a, const char *b, u32 n) {
    for (u32 i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

/* xv6's waitdisk: poll the status until the drive is no longer busy and is ready; returns that status, so the
 * caller can look at ERR, DF and DRQ. */
__attribute__((noinline)) static u8 waitdisk(void) {
    u8 status;
    while (((status = inb(ATA_STATUS)) & (ATA_BSY | ATA_DRDY)) != ATA_DRDY)
        ;
    return status;
}

/* Drive 0, LBA28 address, `count` sectors, then the command. */
static void ata_command(u8 command, u32 lba, u8 count) {
    waitdisk();
    outb(ATA_COUNT, count);
    outb(ATA_LBA0, lba);
    outb(ATA_LBA1, lba >> 8);
    outb(ATA_LBA2, lba >> 16);
    outb(ATA_DRIVE, 0xe0 | ((lba >> 24) & 0x0f));
    outb(ATA_STATUS, command);
}

__attribute__((noinline)) static int readsect(void *dst, u32 lba) {
    ata_command(ATA_CMD_READ, lba, 1);
    if (waitdisk() & (ATA_ERR | ATA_DF)) return -1;
    insl(ATA_DATA, dst, SECTOR / 4);
    return 0;
}

__attribute__((noinline)) static int writesect(const void *src, u32 lba) {
    ata_command(ATA_CMD_WRITE, lba, 1);
    u8 status = waitdisk();
    if ((status & (ATA_ERR | ATA_DF)) || !(status & ATA_DRQ)) return -1;
    outsl(ATA_DATA, src, SECTOR / 4);
    if (waitdisk() & (ATA_ERR | ATA_DF)) return -1;  /* the drive took the sector, or says why not */
    ata_command(ATA_CMD_FLUSH, 0, 0);                 /* to the medium, as a journaling kernel would */
    return waitdisk() & ATA_ERR ? -1 : 0;
}

/* IDENTIFY DEVICE: the model (words 27-46, two characters a word, the first in the high byte) and the number of
 * LBA28 sectors (words 60-61). */
__attribute__((noinline)) static u32 identify(char model[41]) {
    static u16 words[256];
    ata_command(ATA_CMD_IDENTIFY, 0, 0);
    if (waitdisk() & ATA_ERR) return 0;
    insl(ATA_DATA, words, SECTOR / 4);
    for (int i = 0; i < 20; i++) {
        model[2 * i] = words[27 + i] >> 8;
        model[2 * i + 1] = words[27 + i] & 0xff;
    }
    int end = 40;
    while (end > 0 && model[end - 1] == ' ') end--;
    model[end] = 0;
    return words[60] | (u32)words[61] << 16;
}

/* The disk's last sector, this kernel's own. */
struct record {
    char magic[8];     /* "KVMSTUB" once a kernel has written it */
    u32 boots;         /* boots from this disk so far */
    char message[500]; /* what the last boot wrote */
};

static struct record record;

static void guest_exit(u8 status) {
    outb(0xf4, status);
    for (;;) __asm__ volatile("hlt");
}

static void set_message(u32 boots) {
    const char *text = "written by boot ";
    char *m = record.message;
    while (*text) *m++ = *text++;
    char digits[10];
    int i = 0;
    do {
        digits[i++] = '0' + boots % 10;
        boots /= 10;
    } while (boots);
    while (i) *m++ = digits[--i];
    *m = 0;
}

void kmain(void) {
    char model[41];
    puts("kernel: kmain in 32-bit protected mode\r\n");
    u32 sectors = identify(model);
    puts("kernel: disk \"");
    puts(model);
    puts("\", ");
    putdec(sectors);
    puts(" sectors\r\n");
    u32 lba = sectors - 1;
    if (sectors == 0 || readsect(&record, lba) < 0) {
        puts("kernel: cannot read the record block\r\n");
        guest_exit(1);
    }
    if (!same(record.magic, "KVMSTUB", 8)) {
        puts("kernel: the record block is empty: the first boot from this disk\r\n");
        for (u32 i = 0; i < SECTOR; i++) ((u8 *)&record)[i] = 0;
        for (u32 i = 0; i < 8; i++) record.magic[i] = "KVMSTUB"[i];
    } else {
        puts("kernel: the record block says \"");
        puts(record.message);
        puts("\"\r\n");
    }
    u32 boots = record.boots + 1;
    record.boots = boots;
    set_message(boots);
    if (writesect(&record, lba) < 0) {
        puts("kernel: cannot write the record block\r\n");
        guest_exit(1);
    }
    record.boots = 0;
    if (readsect(&record, lba) < 0 || record.boots != boots) {
        puts("kernel: the record block did not read back\r\n");
        guest_exit(1);
    }
    puts("kernel: boot ");
    putdec(boots);
    puts(" recorded in sector ");
    putdec(lba);
    puts("\r\n");
    guest_exit(0);
}
