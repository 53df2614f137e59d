/*
 * Guest entry point.
 *
 * The VMM enters here in 64-bit long mode, CPL0, interrupts disabled, with
 * rsp = top of RAM (0x8000000, 16-byte aligned) and the bss already zeroed.
 * We call main() and hand its return value to the exit port: outb(0xf4, al).
 * If the VMM ever resumes us after that, we halt forever.
 */
        .cfi_sections .debug_frame

        .section .text.start, "ax", @progbits
        .globl  _start
        .type   _start, @function
_start:
        .cfi_startproc
        .cfi_undefined rip          /* outermost frame: gdb's bt stops here */
        xorl    %ebp, %ebp
        andq    $-16, %rsp          /* already aligned if the VMM did its job */
        call    main
        movw    $0xf4, %dx          /* exit port */
        outb    %al, %dx            /* status = low byte of main's return value */
1:      cli
        hlt
        jmp     1b
        .cfi_endproc
        .size   _start, . - _start
#ifndef GUEST_STARTS_APS  /* a guest with its own trampoline (examples/build.sh) starts them with INIT/SIPI */
/*
 * Secondary vCPUs (kvmstub run --cpus N) start here, with rdi = their index
 * and their own stack. They call ap_main(index) (a weak no-op unless the
 * guest defines one), then halt for good: kvmstub parks a halted vCPU.
 */
        .globl  ap_start
        .type   ap_start, @function
ap_start:
        .cfi_startproc
        .cfi_undefined rip
        xorl    %ebp, %ebp
        andq    $-16, %rsp
        call    ap_main
2:      cli
        hlt
        jmp     2b
        .cfi_endproc
        .size   ap_start, . - ap_start
#endif
        .section .note.GNU-stack, "", @progbits
