/*
 * smp: two vCPUs race on one counter. Run with `kvmstub run --cpus 2`.
 *
 * vCPU 0 (main) and vCPU 1 (ap_main, entered at ap_start with rdi = 1) each
 * add 1 to `counter` ROUNDS times with a plain load and store: no lock, no
 * atomic. When both are done, vCPU 0 prints the total and exits with 0 if it
 * is 2 * ROUNDS, or 5 if updates were lost to the race.
 *
 * The debugging exercise: `watch counter` stops on every write, from either
 * vCPU, and `info threads` / `thread N` show who wrote it (gdb threads are
 * vCPUs: thread 1 is vCPU 0). With only one vCPU it says so and exits with 6:
 * vCPU 1 never started. Once it has started vCPU 0 waits for it however long it
 * takes (a debugger may hold it, or a busy host not run it for a while).
 */
#include "guest.h"

#define ROUNDS 200

volatile unsigned long counter;    /* the shared, unprotected counter */
volatile int started[2];           /* set by each vCPU as it begins */
volatile int finished[2];          /* set by each vCPU when its rounds are done */

GDB_VISIBLE void work(int cpu)
{
    started[cpu] = 1;
    for (int i = 0; i < ROUNDS; i++) {
        unsigned long seen = counter;  /* read ... */
        counter = seen + 1;            /* ... and write back: another vCPU may have written in between */
    }
    finished[cpu] = 1;
}

void ap_main(int cpu)
{
    if (cpu == 1)
        work(1);
}

int main(void)
{
    serial_puts("smp: two vCPUs add to one counter\n");
    work(0);
    for (unsigned long spins = 0; !finished[1]; spins++) {
        if (!started[1] && spins > 2000000) {
            serial_puts("vCPU 1 never started: run with --cpus 2\n");
            return 6;
        }
    }
    serial_puts("counter=");
    serial_put_dec(counter);
    serial_puts(counter == 2 * ROUNDS ? " (no update lost)\n" : " (updates lost to the race)\n");
    return counter == 2 * ROUNDS ? 0 : 5;
}
