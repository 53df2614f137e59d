/*
 * An EL1 exception vector table for the guests that take their own exceptions (brk, mmu): every entry saves
 * x0-x18, x29, x30 and ELR/SPSR, calls `void on_exception(struct frame *f, unsigned kind)` (kind = the entry's
 * index 0-15, e.g. 4 = synchronous from the current EL with SP_ELx), restores (ELR may have been changed) and
 * returns with eret. Install with `write_sysreg(vbar_el1, el1_vectors)`.
 * lib/guest.c has a weak on_exception that reports the exception and resets (PSCI SYSTEM_RESET): a guest with
 * handlers of its own defines it.
 */
    .text
    .macro entry kind
    .balign 0x80
    sub     sp, sp, #(24 * 8)
    stp     x0, x1, [sp, #0]
    mov     x1, #\kind
    b       exception_common
    .endm

    .balign 0x800
    .global el1_vectors
el1_vectors:
    entry 0
    entry 1
    entry 2
    entry 3
    entry 4
    entry 5
    entry 6
    entry 7
    entry 8
    entry 9
    entry 10
    entry 11
    entry 12
    entry 13
    entry 14
    entry 15

exception_common:
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x29, [sp, #144]
    mrs     x2, elr_el1
    mrs     x3, spsr_el1
    stp     x30, x2, [sp, #160]
    str     x3, [sp, #176]
    mov     x0, sp
    bl      on_exception
    ldp     x30, x2, [sp, #160]
    ldr     x3, [sp, #176]
    msr     elr_el1, x2
    msr     spsr_el1, x3
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x29, [sp, #144]
    ldp     x0, x1, [sp, #0]
    add     sp, sp, #(24 * 8)
    eret
