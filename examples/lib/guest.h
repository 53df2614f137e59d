/*
 * Tiny runtime shared by the kvmstub example guests.
 *
 * Devices provided by the kvmstub VMM:
 *   port 0x3f8 (out)  serial data: one byte to the host's stdout
 *   port 0x3fd (in)   serial line status: 0x20|0x40 = transmitter empty
 *   port 0xf4  (out)  exit: the VM stops and `kvmstub run` exits with the byte
 */
#ifndef KVMSTUB_GUEST_H
#define KVMSTUB_GUEST_H

#define SERIAL_DATA 0x3f8
#define SERIAL_LSR  0x3fd
#define SERIAL_LSR_THRE 0x20    /* transmitter holding register empty */
#define EXIT_PORT   0xf4

/* For functions the gdb walkthroughs/tests break on: a real call, a real
   frame, and no inter-procedural tricks (constant propagation into the
   callee, return value assumed by the caller) that would make `finish`,
   `return` or `set var` on arguments misleading. */
#define GDB_VISIBLE __attribute__((noinline, noipa))

static inline void outb(unsigned short port, unsigned char value)
{
    __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static inline unsigned char inb(unsigned short port)
{
    unsigned char value;
    __asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port));
    return value;
}

static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void hlt(void) { __asm__ volatile("hlt" ::: "memory"); }

void serial_putc(char c);
void serial_puts(const char *s);
void serial_put_hex(unsigned long value);   /* "0x" + lowercase hex, no padding */
void serial_put_dec(unsigned long value);   /* unsigned decimal */
__attribute__((noreturn)) void exit_vm(int status);
__attribute__((noreturn)) void halt_forever(void);

/* gcc may emit calls to these even with -ffreestanding. */
void *memset(void *dst, int c, unsigned long n);
void *memcpy(void *dst, const void *src, unsigned long n);
void *memmove(void *dst, const void *src, unsigned long n);
int memcmp(const void *a, const void *b, unsigned long n);

#endif
