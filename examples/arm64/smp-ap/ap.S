/*
 * ap_start (examples/arm64/smp-ap): kvmstub's own start-up for secondary vCPUs, as on x86. When the ELF has a
 * symbol `ap_start`, `kvmstub run --cpus N` starts vCPUs 1..N-1 there at once, beside vCPU 0, in EL1h with the
 * MMU off, x0 = the vCPU's index and sp = the top of RAM - index * 0x10000 (a 64 KiB stack each below vCPU 0's).
 * No PSCI CPU_ON needed. It records what it was given (x0 and sp, before C moves sp) and calls ap_main(cpu).
 */
#include "smp-ap.h"

    .cfi_sections .debug_frame          /* the build drops .eh_frame; gdb reads .debug_frame */
    .text
    .global ap_start
    .type ap_start, %function
ap_start:
    .cfi_startproc
    .cfi_undefined x30                  /* no caller: gdb's backtrace ends here */
    cmp     x0, #SMP_MAX_CPUS
    b.hs    2f                          /* no slot for this CPU: ap_main turns it off */
    adrp    x1, ap_entry_sp
    add     x1, x1, :lo12:ap_entry_sp
    mov     x2, sp
    str     x2, [x1, x0, lsl #3]        /* ap_entry_sp[cpu] = sp as kvmstub gave it */
2:  mov     x29, #0                     /* the end of the frame-pointer chain */
    bl      ap_main                     /* ap_main(cpu): ends with PSCI CPU_OFF, does not return */
1:  wfi
    b       1b
    .cfi_endproc
    .size ap_start, . - ap_start
