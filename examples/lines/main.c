/*
 * lines: source lines that take many instructions, for `next` and `step` with and without range stepping
 * (vCont;r: gdb hands kvmstub a line's address range and hears back once, where it would otherwise step every
 * instruction of the line with a round trip each).
 *
 * busy(n) is a one-line loop of n iterations (six instructions each at -O1), called three times with `loops`
 * (2000): `next` over that line is 12 000 instructions. spin() is a one-line loop that runs until gdb sets
 * `stop_spinning` (gdb clears it first to interrupt a `next` over it with Ctrl-C).
 *
 * Undisturbed it prints
 *
 *   lines
 *   acc=5997000
 *   spins=1
 *
 * and exits with 0 when acc is 3 * (0 + 1 + ... + 1999) = 5997000 at the end, else 3 (gdb changed it).
 */
#include "guest.h"

volatile unsigned long acc;         /* .bss: every iteration of busy() adds to it (a watchpoint target) */
volatile unsigned long spins;       /* .bss */
volatile int stop_spinning = 1;     /* .data: gdb sets it to 0 to keep spin() spinning */
unsigned long loops = 2000;         /* .data */

GDB_VISIBLE void busy(unsigned long n)
{
    for (unsigned long i = 0; i < n; i++) acc += i;
}

GDB_VISIBLE void spin(void)
{
    do spins++; while (!stop_spinning);
}

int main(void)
{
    serial_puts("lines\n");
    busy(loops);
    busy(loops);
    busy(loops);
    spin();
    serial_puts("acc=");
    serial_put_dec(acc);
    serial_puts("\nspins=");
    serial_put_dec(spins);
    serial_putc('\n');
    return acc == 5997000 ? 0 : 3;
}
