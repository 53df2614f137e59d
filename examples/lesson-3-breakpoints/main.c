/*
 * Lesson 3: software and hardware breakpoints, on code that is not where it was when the breakpoint went in.
 *
 * Like a JIT or a loader, this guest copies a routine (`payload`: x -> 3x + 1) into a buffer (`trampoline`,
 * in .bss) before each call, so the bytes at the trampoline are rewritten every time. At the end it maps
 * the trampoline's page at a second, new address (`WINDOW` = 4 GiB, beyond the 4 GiB the VMM identity-maps)
 * with a page table of its own, and calls the routine there: code at an address that had no mapping when
 * gdb started.
 *
 *   stage 1..3  copy `payload` to `trampoline`, call trampoline(stage), then checkpoint(stage, result)
 *   stage 4     map WINDOW -> the trampoline's physical page, call WINDOW(4), then checkpoint(4, result)
 *
 * It prints each result and exits with 0 when all four are 3x + 1, else 1. `never_called_1..3` are never
 * called: the lesson puts hardware breakpoints on them to use up the four debug registers.
 */
#include "guest.h"

#define WINDOW 0x100000000UL     /* 4 GiB: PML4[0] -> PDPT[4], which the VMM leaves empty */
#define PDPT   0x2000UL          /* the VMM's PDPT (X86Boot.swift), identity-mapped */

/* The routine that gets copied: position-independent, 5 bytes. */
__asm__(".text\n"
        ".globl payload, payload_end\n"
        ".type payload, @function\n"
        "payload:\n"
        "    lea 1(%rdi,%rdi,2), %eax\n"
        "    ret\n"
        "payload_end:\n"
        ".size payload, payload_end - payload\n");
extern const unsigned char payload[], payload_end[];

/* Page-aligned, so it can be mapped on its own; executable, like all guest RAM here (no NX). */
unsigned char trampoline[4096] __attribute__((aligned(4096)));
unsigned long window_pd[512] __attribute__((aligned(4096)));
unsigned long window_pt[512] __attribute__((aligned(4096)));

typedef int routine(int);

GDB_VISIBLE void never_called_1(void) { serial_puts("never_called_1\n"); }
GDB_VISIBLE void never_called_2(void) { serial_puts("never_called_2\n"); }
GDB_VISIBLE void never_called_3(void) { serial_puts("never_called_3\n"); }

/* Where the lesson stops between stages. */
GDB_VISIBLE void checkpoint(int stage, int result)
{
    serial_puts("stage ");
    serial_put_dec(stage);
    serial_puts(": ");
    serial_put_dec(result);
    serial_putc('\n');
}

GDB_VISIBLE int copy_and_call(int x)
{
    memcpy(trampoline, payload, payload_end - payload);
    return ((routine *)trampoline)(x);
}

GDB_VISIBLE void map_window(void)
{
    const unsigned long present_rw = 3;
    window_pt[0] = (unsigned long)trampoline | present_rw;  /* guest-physical == guest-virtual here */
    window_pd[0] = (unsigned long)window_pt | present_rw;
    *(volatile unsigned long *)(PDPT + 4 * 8) = (unsigned long)window_pd | present_rw;
    __asm__ volatile("invlpg (%0)" : : "r"(WINDOW) : "memory");
}

int main(void)
{
    int ok = 1;
    serial_puts("lesson 3: code copied into place, then mapped at 4 GiB\n");
    for (int stage = 1; stage <= 3; stage++) {
        int r = copy_and_call(stage);
        ok &= r == 3 * stage + 1;
        checkpoint(stage, r);
    }
    map_window();
    int r = ((routine *)WINDOW)(4);
    ok &= r == 13;
    checkpoint(4, r);
    serial_puts(ok ? "all results right\n" : "a result was wrong\n");
    return ok ? 0 : 1;
}
