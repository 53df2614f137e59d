/*
 * Where a secondary CPU starts (examples/arm64/smp): vCPU 0's PSCI CPU_ON gave this address as the entry point.
 * The CPU arrives as if just reset: EL1h, MMU off, D/A/I/F masked, x0 = the context id vCPU 0 passed (here,
 * the CPU's index), every other register reset — sp included (KVM gives 0). C needs a stack before its first
 * call, and each CPU needs its own: two CPUs pushing frames onto one stack would overwrite each other's
 * return addresses and locals. vCPU 0 wrote each CPU's stack top into secondary_stack_top[] before CPU_ON.
 */
    .cfi_sections .debug_frame          /* the build drops .eh_frame; gdb reads .debug_frame */
    .text
    .global secondary_entry
    .type secondary_entry, %function
secondary_entry:
    .cfi_startproc
    .cfi_undefined x30                  /* no caller: gdb's backtrace ends here */
    adrp    x1, secondary_stack_top
    add     x1, x1, :lo12:secondary_stack_top
    ldr     x1, [x1, x0, lsl #3]        /* secondary_stack_top[cpu] */
    mov     sp, x1
    mov     x29, #0                     /* the end of the frame-pointer chain */
    bl      secondary_main              /* secondary_main(cpu): ends with PSCI CPU_OFF, does not return */
1:  wfi
    b       1b
    .cfi_endproc
    .size secondary_entry, . - secondary_entry
