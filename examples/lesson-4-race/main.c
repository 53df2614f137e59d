/*
 * Lesson 4: a data race between two vCPUs, and what a watchpoint can and cannot see of it.
 * Run with `kvmstub run --cpus 2`.
 *
 * vCPU 0 (main) and vCPU 1 (ap_main) each call increment() ROUNDS times. increment() reads `counter` into a
 * register, then writes that value + 1 back: no lock, no atomic instruction. `between` labels the
 * instruction after the read, where another vCPU's write makes this one's write lose an update.
 *
 * When both are done, vCPU 0 prints the total and exits with the number of updates lost (0 when none was).
 * Undisturbed, the race is real but rare; the lesson makes it happen on purpose with gdb's scheduler.
 */
#include "guest.h"

#define ROUNDS 5

volatile unsigned long counter;   /* the shared, unprotected counter */
volatile int finished[2];         /* set by each vCPU when its rounds are done */

GDB_VISIBLE void increment(void)
{
    unsigned long seen = counter;                            /* read ... */
    __asm__ volatile(".globl between\nbetween:" ::: "memory");
    counter = seen + 1;                                      /* ... write: another vCPU may have written in between */
}

GDB_VISIBLE void work(int cpu)
{
    for (int i = 0; i < ROUNDS; i++)
        increment();
    finished[cpu] = 1;
}

void ap_main(int cpu)
{
    if (cpu == 1)
        work(1);
}

int main(void)
{
    serial_puts("race: two vCPUs increment one counter\n");
    work(0);
    for (unsigned long spins = 0; !finished[1]; spins++) {
        if (spins > 2000000) {
            serial_puts("vCPU 1 never finished: run with --cpus 2\n");
            return 100;
        }
    }
    unsigned long lost = 2 * ROUNDS - counter;
    serial_puts("counter=");
    serial_put_dec(counter);
    serial_puts(", lost=");
    serial_put_dec(lost);
    serial_putc('\n');
    return (int)lost;
}
