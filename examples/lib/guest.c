#include "guest.h"

void serial_putc(char c)
{
    /* Wait (boundedly) for "transmitter empty" like a real 16550 driver
       would; kvmstub always reports it empty, so this is one `inb`.
       Bounded so a VMM that answers 0 for the port cannot hang us. */
    for (int tries = 0; tries < 16; tries++)
        if (inb(SERIAL_LSR) & SERIAL_LSR_THRE)
            break;
    outb(SERIAL_DATA, (unsigned char)c);
}

void serial_puts(const char *s)
{
    while (*s)
        serial_putc(*s++);
}

void serial_put_hex(unsigned long value)
{
    static const char digits[] = "0123456789abcdef";
    char buf[16];
    int n = 0;
    do {
        buf[n++] = digits[value & 0xf];
        value >>= 4;
    } while (value);
    serial_putc('0');
    serial_putc('x');
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

void halt_forever(void)
{
    for (;;) {
        cli();
        hlt();
    }
}

void exit_vm(int status)
{
    outb(EXIT_PORT, (unsigned char)status);
    halt_forever();     /* only reached if the VMM resumes us */
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

void *memmove(void *dst, const void *src, unsigned long n)
{
    unsigned char *d = dst;
    const unsigned char *s = src;
    if (d < s) {
        while (n--)
            *d++ = *s++;
    } else {
        while (n--)
            d[n] = s[n];
    }
    return dst;
}

int memcmp(const void *a, const void *b, unsigned long n)
{
    const unsigned char *x = a, *y = b;
    for (; n; n--, x++, y++)
        if (*x != *y)
            return *x - *y;
    return 0;
}

/* What a secondary vCPU runs (see ap_start in start.S); guests that use
 * more than one vCPU define their own. */
__attribute__((weak)) void ap_main(int cpu)
{
    (void)cpu;
}
