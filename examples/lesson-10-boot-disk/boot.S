/*
 * Lesson 10: a boot sector that loads a C kernel from an ATA disk, as xv6's bootasm.S/bootmain.c do.
 *
 * `kvmstub run --real-mode --disk lesson-10-boot-disk.img` plays the BIOS: it copies the disk's sector 0 (this
 * code, 512 bytes ending in 0x55 0xaa) to 0x7c00 and starts it in 16-bit real mode. The disk
 * (examples/build.sh makes it):
 *
 *   sector 0            this boot sector
 *   sectors 1..64       the kernel: an ELF32 file (lesson-10-boot-disk-kernel.elf without its debug info)
 *   the last sector     the kernel's record block (kernel.c): a boot counter and a message
 *
 *   real16       reads the 64 kernel sectors with ATA PIO to 0x10000 (READ SECTORS, then for each sector:
 *                poll the status port until BSY clears and DRQ is set, `rep insw` 256 words), then a GDT and
 *                CR0.PE.
 *   protected32  32-bit protected mode, flat segments, no paging (xv6's choice: see LESSON.md). Copies each
 *                PT_LOAD segment of the ELF file to its p_paddr, zeroes the rest of p_memsz (the bss), and
 *                jumps to e_entry.
 *
 * On a disk error it prints the status and exits with 2; a file that is not ELF exits with 3.
 */
        .set    KERNEL_LBA,     1
        .set    KERNEL_SECTORS, 64
        .set    LOAD_SEG,       0x1000          /* the kernel file lands at 0x1000:0 = 0x10000 */
        .set    LOAD,           0x10000

        .set    ATA_DATA,       0x1f0
        .set    ATA_COUNT,      0x1f2
        .set    ATA_LBA0,       0x1f3
        .set    ATA_LBA1,       0x1f4
        .set    ATA_LBA2,       0x1f5
        .set    ATA_DRIVE,      0x1f6
        .set    ATA_STATUS,     0x1f7           /* reading it: status; writing it: a command */
        .set    ATA_READ,       0x20            /* READ SECTORS */
        .set    BSY, 0x80
        .set    DF,  0x20
        .set    DRQ, 0x08
        .set    ERR, 0x01

        .set    CODE32, 0x08
        .set    DATA,   0x10

        .section .text
        .code16
        .globl  _start, real16
_start:
real16:
        cli
        cld
        xor     %ax, %ax
        mov     %ax, %ds
        mov     %ax, %ss
        mov     $0x7c00, %sp
        mov     $msg_boot, %si
        call    puts16

        /* READ SECTORS: drive 0, LBA KERNEL_LBA, KERNEL_SECTORS sectors. */
        .globl  read_kernel
read_kernel:
        mov     $ATA_DRIVE, %dx
        mov     $0xe0, %al              /* 1, LBA, 1, drive 0, LBA bits 27..24 = 0 */
        out     %al, %dx
        mov     $ATA_COUNT, %dx
        mov     $KERNEL_SECTORS, %al
        out     %al, %dx
        mov     $ATA_LBA0, %dx
        mov     $KERNEL_LBA, %al
        out     %al, %dx
        xor     %al, %al
        mov     $ATA_LBA1, %dx
        out     %al, %dx
        mov     $ATA_LBA2, %dx
        out     %al, %dx
        mov     $ATA_STATUS, %dx
        mov     $ATA_READ, %al
        out     %al, %dx

        mov     $LOAD_SEG, %ax
        mov     %ax, %es
        xor     %di, %di                /* es:di = 1000:0000, where the next sector goes */
        mov     $KERNEL_SECTORS, %bp    /* sectors still to read */
        .globl  next_sector, wait_disk, sector_landed
next_sector:
        mov     $ATA_STATUS, %dx
wait_disk:
        in      %dx, %al                /* the status poll */
        test    $BSY, %al
        jnz     wait_disk               /* busy: the other bits mean nothing yet */
        test    $(ERR | DF), %al
        jnz     disk_error
        test    $DRQ, %al
        jz      wait_disk
        mov     $ATA_DATA, %dx
        mov     $256, %cx
        rep insw                        /* 256 words from the data port to es:di; di += 512 */
sector_landed:
        dec     %bp
        jnz     next_sector

        lgdtl   gdt_descriptor
        mov     %cr0, %eax
        or      $1, %eax                /* PE */
        mov     %eax, %cr0
        ljmpl   $CODE32, $protected32

disk_error:
        mov     $msg_disk_error, %si
        call    puts16
        mov     $2, %al
        out     %al, $0xf4
        hlt

puts16:
        mov     $0x3f8, %dx
1:      lodsb
        test    %al, %al
        jz      2f
        out     %al, %dx
        jmp     1b
2:      ret

        .code32
        .globl  protected32, load_segment, enter_kernel
protected32:
        mov     $DATA, %ax
        mov     %ax, %ds
        mov     %ax, %es
        mov     %ax, %ss
        mov     $0x7c00, %esp
        mov     $LOAD, %ebx             /* the ELF header */
        cmpl    $0x464c457f, (%ebx)     /* "\x7fELF" */
        jne     not_elf
        mov     0x1c(%ebx), %ebp        /* e_phoff */
        add     %ebx, %ebp              /* ebp: the program header */
        movzwl  0x2c(%ebx), %edx        /* e_phnum */
load_segment:
        cmpl    $1, (%ebp)              /* PT_LOAD */
        jne     3f
        mov     0x04(%ebp), %esi        /* p_offset */
        add     %ebx, %esi
        mov     0x0c(%ebp), %edi        /* p_paddr */
        mov     0x10(%ebp), %ecx        /* p_filesz */
        rep movsb
        mov     0x14(%ebp), %ecx        /* p_memsz */
        sub     0x10(%ebp), %ecx
        xor     %eax, %eax
        rep stosb                       /* the bss */
3:      add     $32, %ebp               /* sizeof(Elf32_Phdr) */
        dec     %edx
        jnz     load_segment
enter_kernel:
        jmp     *0x18(%ebx)             /* e_entry */

not_elf:
        mov     $3, %al
        out     %al, $0xf4
        hlt

        .p2align 3
gdt:
        .quad   0                       /* null */
        .quad   0x00cf9a000000ffff      /* 0x08: 32-bit code, base 0, 4 GiB */
        .quad   0x00cf92000000ffff      /* 0x10: data, base 0, 4 GiB */
gdt_descriptor:
        .word   gdt_descriptor - gdt - 1
        .long   gdt

msg_boot:       .asciz "boot: reading the kernel from the disk\r\n"
msg_disk_error: .asciz "boot: disk error\r\n"

        .org    510
boot_signature:
        .word   0xaa55                  /* the boot signature a BIOS checks */
