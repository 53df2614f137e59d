/*
 * hello: the first guest everyone runs, and the one the gdb walkthrough uses.
 *
 * Undisturbed, it prints exactly this over the serial port and exits with 0:
 *
 *   hello from the guest
 *   add(2, 3) = 5
 *   fib(10) = 55
 *   hello, kvmstub (1/2)
 *   hello, kvmstub (2/2)
 *   origin = (3, 4), distance2 = 25
 *   counter=20
 *   message=kvmstub
 *   done
 *
 * Everything printed after a call is computed at run time from state gdb can
 * change, so a test can tell that the guest observed a change made by gdb:
 *
 *   - `break add`, `continue`, `info args` shows a = 2, b = 3.
 *     `set var a = 40` before `finish` (or `return 99`) changes the
 *     "add(2, 3) = ..." line.
 *   - `fib(n)` (iterative, n = 10) and `greet(name, times)` have arguments and
 *     locals to inspect; `set var times = 1` in greet prints one greeting.
 *   - `distance2(const struct point *p)`: `p *p` shows {x = 3, y = 4}.
 *     `set var origin.x = 6` changes the "origin = ..." line.
 *   - `counter` (volatile, in .bss, so it also checks that the VMM zeroed the
 *     bss) is incremented by `tick()` 20 times. `set var counter = 100` at any
 *     point changes the "counter=" line AND the exit status:
 *     the guest exits with status 0 if counter == 20 at the end, else 3.
 *   - `message` (char[32], in .data) is used as greet's name and printed at
 *     the end: `set var message[0] = 'K'` shows up as "message=Kvmstub"
 *     (and as "hello, Kvmstub" if done before greet runs).
 *
 * About 2,950 instructions and 309 port I/O exits in total (one `inb` of the
 * line status and one `outb` per character), i.e. a few ms under KVM's
 * instruction emulator.
 */
#include "guest.h"

struct point {
    long x, y;
};

volatile unsigned long counter;             /* .bss  */
struct point origin = {3, 4};               /* .data */
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

GDB_VISIBLE void greet(const char *name, int times)
{
    for (int i = 1; i <= times; i++) {
        serial_puts("hello, ");
        serial_puts(name);
        serial_puts(" (");
        serial_put_dec((unsigned long)i);
        serial_putc('/');
        serial_put_dec((unsigned long)times);
        serial_puts(")\n");
    }
}

GDB_VISIBLE long distance2(const struct point *p)
{
    return p->x * p->x + p->y * p->y;
}

GDB_VISIBLE void tick(void)
{
    counter++;
}

static void put_signed(long v)
{
    if (v < 0) {
        serial_putc('-');
        serial_put_dec(-(unsigned long)v);
    } else {
        serial_put_dec((unsigned long)v);
    }
}

int main(void)
{
    serial_puts("hello from the guest\n");

    int sum = add(2, 3);
    serial_puts("add(2, 3) = ");
    put_signed(sum);
    serial_putc('\n');

    unsigned long f = fib(10);
    serial_puts("fib(10) = ");
    serial_put_dec(f);
    serial_putc('\n');

    greet(message, 2);

    long d = distance2(&origin);
    serial_puts("origin = (");
    put_signed(origin.x);
    serial_puts(", ");
    put_signed(origin.y);
    serial_puts("), distance2 = ");
    put_signed(d);
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
