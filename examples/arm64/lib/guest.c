/* The arm64 guests' serial output (PL011 data register) and PSCI call; see guest.h. */
#include "guest.h"

unsigned long entry_sp;

void serial_putc(char c)
{
    /* One 32-bit store with no writeback: an MMIO exit KVM can decode (ESR's ISV set). The VMM models only
       the data register, so the flag register is never polled. */
    __asm__ volatile("str %w0, [%1]" ::"r"((unsigned)(unsigned char)c), "r"(PL011_DR) : "memory");
}

void serial_puts(const char *s)
{
    while (*s)
        serial_putc(*s++);
}

void serial_put_hex(unsigned long value)
{
    char buf[16];
    int n = 0;
    serial_puts("0x");
    do {
        unsigned d = value & 15;
        buf[n++] = (char)(d < 10 ? '0' + d : 'a' + d - 10);
        value >>= 4;
    } while (value);
    while (n)
        serial_putc(buf[--n]);
}

void serial_put_dec(unsigned long value)
{
    char buf[20];
    int n = 0;
    do {
        buf[n++] = (char)('0' + value % 10);
        value /= 10;
    } while (value);
    while (n)
        serial_putc(buf[--n]);
}

unsigned long psci_call(unsigned long fn, unsigned long a1, unsigned long a2, unsigned long a3)
{
    register unsigned long x0 __asm__("x0") = fn;
    register unsigned long x1 __asm__("x1") = a1;
    register unsigned long x2 __asm__("x2") = a2;
    register unsigned long x3 __asm__("x3") = a3;
    __asm__ volatile("hvc #0" : "+r"(x0), "+r"(x1), "+r"(x2), "+r"(x3)::"memory");
    return x0;
}

void *memset(void *dst, int c, unsigned long n)
{
    unsigned char *d = dst;
    while (n--)
        *d++ = (unsigned char)c;
    return dst;
}

void *memcpy(void *dst, const void *src, unsigned long n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    while (n--)
        *d++ = *s++;
    return dst;
}

/* The default for a guest that installs lib/vectors.S without handling exceptions itself: say which one
   was taken and end the run with PSCI SYSTEM_RESET (kvmstub exits 1). */
__attribute__((weak)) void on_exception(struct frame *f, unsigned kind)
{
    serial_puts("unexpected exception: vector ");
    serial_put_dec(kind);
    serial_puts(" esr=");
    serial_put_hex(read_sysreg(esr_el1));
    serial_puts(" elr=");
    serial_put_hex(f->elr);
    serial_puts(" far=");
    serial_put_hex(read_sysreg(far_el1));
    serial_putc('\n');
    psci_call(PSCI_SYSTEM_RESET, 0, 0, 0);
    for (;;)
        __asm__ volatile("wfi");
}
