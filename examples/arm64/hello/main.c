/*
 * hello (arm64): the first arm64 guest, and the one the basic gdb-multiarch sessions use.
 *
 * Undisturbed, it prints this on the PL011 and powers off through PSCI SYSTEM_OFF (kvmstub exits 0):
 *
 *   hello from the arm64 guest
 *   CurrentEL=1 sp at entry=0x...   (kvmstub: the top of RAM; QEMU's -kernel loader: 0)
 *   add(2, 3) = 5
 *   fib(10) = 55
 *   counter=20
 *   message=kvmstub
 *   done
 *
 * What it prints after a call is computed at run time from state gdb can change:
 *   - `break add`, `finish`: add's a/b are in w0/w1; `set var $w0 = 40` (or `return 99`) changes the line.
 *   - `fib(n)` loops n times (stepi material).
 *   - `counter` (.bss, so it also checks the loader zeroed the bss) is incremented by tick() 20 times:
 *     `watch counter` stops at each store. Set it to anything else and the guest ends with PSCI SYSTEM_RESET
 *     instead of SYSTEM_OFF (kvmstub exits 1).
 *   - `message` (.data): `set var message[0] = 'K'` shows up as "message=Kvmstub".
 */
#include "guest.h"

volatile unsigned long counter;             /* .bss  */
char message[32] = "kvmstub";               /* .data */

GDB_VISIBLE int add(int a, int b)
{
    return a + b;
}

GDB_VISIBLE unsigned long fib(unsigned n)
{
    unsigned long a = 0, b = 1;
    for (unsigned i = 0; i < n; i++) {
        unsigned long next = a + b;
        a = b;
        b = next;
    }
    return a;
}

GDB_VISIBLE void tick(void)
{
    counter++;
}

int main(void)
{
    serial_puts("hello from the arm64 guest\n");
    serial_puts("CurrentEL=");
    serial_put_dec(read_sysreg(CurrentEL) >> 2);
    serial_puts(" sp at entry=");
    serial_put_hex(entry_sp);
    serial_putc('\n');

    int sum = add(2, 3);
    serial_puts("add(2, 3) = ");
    serial_put_dec((unsigned long)(long)sum);
    serial_putc('\n');

    serial_puts("fib(10) = ");
    serial_put_dec(fib(10));
    serial_putc('\n');

    for (int i = 0; i < 20; i++)
        tick();
    unsigned long final = counter;
    serial_puts("counter=");
    serial_put_dec(final);
    serial_putc('\n');

    serial_puts("message=");
    serial_puts(message);
    serial_putc('\n');

    serial_puts("done\n");
    return final == 20 ? 0 : 3;
}
