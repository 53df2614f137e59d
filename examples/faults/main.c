/*
 * faults: ends the VM in one of several abnormal (or not) ways, chosen by the
 * global `mode`. Set it from gdb before it is read, e.g.
 *   kvmstub run examples/build/faults.elf --wait --gdb 127.0.0.1:1234
 *   (gdb) set var mode = 1
 *   (gdb) continue
 * build.sh also builds faults-mode<N>.elf with `mode` preset to N (N = 0..4),
 * for tests that don't want to drive gdb. The guest first prints
 * "faults: mode=<N>\n", then:
 *
 *   0  prints "halting\n", then `cli; hlt` (interrupts off, no IDT): the vCPU
 *      halts with nothing that can ever wake it (KVM_EXIT_HLT). If the VMM
 *      resumes it anyway it executes `cli; hlt` again, forever.
 *   1  triple fault: loads an IDT with limit 0 (`lidt`), then `ud2`. #UD finds
 *      no IDT entry -> #GP -> #DF -> triple fault (KVM_EXIT_SHUTDOWN). The pc
 *      at the time is the `ud2` in trigger_triple_fault().
 *   2  writes 0xdeadbeef (4 bytes) to physical 0xF0000000: identity-mapped
 *      but not RAM (RAM is 128 MiB from 0), so KVM reports an MMIO write
 *      (KVM_EXIT_MMIO, len 4). If the VMM ignores it and resumes, the guest
 *      prints "mmio write ignored\n" and exits with status 2.
 *   3  exits normally with status 42 (via main's return value).
 *   4  reads 4 bytes from physical 0xF0000000: KVM_EXIT_MMIO, a read. KVM
 *      finishes the instruction only when the VMM resumes the vCPU with the
 *      data, so the rip at the exit is the load itself (for the store of mode
 *      2 it is already past it). Resumed, the guest prints
 *      "mmio read ignored\n" and exits with status 4.
 *   other: prints "unknown mode\n" and exits with status 1.
 */
#include "guest.h"

#ifndef FAULTS_MODE
#define FAULTS_MODE 0
#endif

/* Always in .data (even when 0), so it has a file offset in every variant. */
__attribute__((section(".data.mode"))) volatile int mode = FAULTS_MODE;

#define MMIO_ADDRESS 0xF0000000UL

GDB_VISIBLE __attribute__((noreturn)) void halt_with_interrupts_off(void)
{
    serial_puts("halting\n");
    halt_forever();
}

GDB_VISIBLE __attribute__((noreturn)) void trigger_triple_fault(void)
{
    struct __attribute__((packed)) {
        unsigned short limit;
        unsigned long base;
    } idtr = {0, 0};
    __asm__ volatile("lidt %0" : : "m"(idtr));
    __asm__ volatile("ud2");
    __builtin_unreachable();
}

GDB_VISIBLE void write_outside_ram(void)
{
    *(volatile unsigned int *)MMIO_ADDRESS = 0xdeadbeef;
}

GDB_VISIBLE unsigned int read_outside_ram(void)
{
    return *(volatile unsigned int *)MMIO_ADDRESS;
}

int main(void)
{
    int m = mode;
    serial_puts("faults: mode=");
    serial_put_dec((unsigned long)m);
    serial_putc('\n');

    switch (m) {
    case 0:
        halt_with_interrupts_off();
    case 1:
        trigger_triple_fault();
    case 2:
        write_outside_ram();
        serial_puts("mmio write ignored\n");
        return 2;
    case 3:
        return 42;
    case 4:
        read_outside_ram();
        serial_puts("mmio read ignored\n");
        return 4;
    default:
        serial_puts("unknown mode\n");
        return 1;
    }
}
