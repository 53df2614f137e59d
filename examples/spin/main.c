/*
 * spin: never exits on its own. For testing Ctrl-C (interrupting a running
 * guest) and attaching gdb to a guest that is already running.
 *
 * Calls spin_once() once, prints "spinning\n", then calls spin_once() in a
 * loop; spin_once() increments the global `spins` (so after an interrupt gdb
 * sees it growing and the pc is in main's loop or in spin_once). Once
 * "spinning" is on the serial port, `spins` is at least 1: a test waits for
 * that line, not for a fixed time, before it expects the guest to have run.
 *
 * To end it from gdb: `set var stop_spinning = 1`, `continue`. The guest then
 * prints "stopped after <n> spins\n" and exits with status 7.
 *
 * One loop iteration is 9 instructions (about 5 us under KVM's emulator).
 */
#include "guest.h"

volatile unsigned long spins;       /* .bss */
volatile int stop_spinning;         /* .bss; gdb sets it to 1 */

GDB_VISIBLE void spin_once(void)
{
    spins++;
}

int main(void)
{
    spin_once();
    serial_puts("spinning\n");
    while (!stop_spinning)
        spin_once();
    serial_puts("stopped after ");
    serial_put_dec(spins);
    serial_puts(" spins\n");
    return 7;
}
