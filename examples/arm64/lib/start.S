/*
 * Entry of every arm64 example guest: EL1h, MMU off, sp at the top of RAM (kvmstub) or 0 (QEMU's -kernel ELF
 * loader, which sets only the pc: the guest then takes a stack of its own). main's return value ends the run
 * through PSCI (SMCCC over HVC): 0 is SYSTEM_OFF (kvmstub exits 0), anything else SYSTEM_RESET (exits 1).
 */
#include "psci.h"

    .section .text.start, "ax"
    .global _start
_start:
    mov     x0, sp
    adrp    x1, entry_sp
    str     x0, [x1, :lo12:entry_sp]
    cbnz    x0, 1f
    adrp    x0, __fallback_stack_top
    add     x0, x0, :lo12:__fallback_stack_top
    mov     sp, x0
1:  bl      main
    mov     w1, w0
    movz    x0, #(PSCI_SYSTEM_OFF & 0xffff)
    movk    x0, #(PSCI_SYSTEM_OFF >> 16), lsl #16
    cbz     w1, 2f
    movz    x0, #(PSCI_SYSTEM_RESET & 0xffff)
    movk    x0, #(PSCI_SYSTEM_RESET >> 16), lsl #16
2:  hvc     #0
    .global halt_forever
halt_forever:                   /* PSCI returned: not reached on a working VMM */
    wfi
    b       halt_forever
