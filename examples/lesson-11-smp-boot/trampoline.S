/*
 * Lesson 11: the application processor's trampoline, from the reset state to long mode.
 *
 * Linked at 0x8000 (guest.ld), where main.c's start_ap() copies it before it sends the SIPI whose vector, 8,
 * is this page's number: the AP starts at ap_trampoline in real mode with cs = 0x0800 (base 0x8000), ip = 0.
 * Everything it needs comes from the hand-off block at its end, which the BSP fills in after the copy: the
 * BSP's GDT (shared: 0x08 64-bit code, 0x10 data, 0x18 32-bit code), its page tables (cr3) and a stack.
 */
#define CODE64 0x08
#define DATA   0x10
#define CODE32 0x18

        .section .trampoline, "awx", @progbits
        .code16
        .globl  ap_trampoline
        .type   ap_trampoline, @function
ap_trampoline:
        ljmp    $0, $ap_real_mode       /* cs = 0: from here ip is the address gdb's symbols use */
ap_real_mode:
        cli
        xorw    %ax, %ax
        movw    %ax, %ds
        movw    %ax, %ss
        lgdtl   handoff_gdtr            /* the BSP's GDT, through the hand-off block */
        movl    %cr0, %eax
        orl     $1, %eax                /* CR0.PE: protected mode */
        movl    %eax, %cr0
        ljmpl   $CODE32, $ap_protected_mode

        .code32
ap_protected_mode:
        movw    $DATA, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        movl    %cr4, %eax
        orl     $0x20, %eax             /* CR4.PAE */
        movl    %eax, %cr4
        movl    handoff_cr3, %eax       /* the BSP's page tables (below 4 GiB) */
        movl    %eax, %cr3
        movl    $0xc0000080, %ecx       /* EFER */
        rdmsr
        orl     $0x100, %eax            /* EFER.LME */
        wrmsr
        movl    %cr0, %eax
        orl     $0x80000000, %eax       /* CR0.PG: with LME, long mode (compatibility mode until cs changes) */
        movl    %eax, %cr0
        ljmp    $CODE64, $ap_long_mode

        .code64
ap_long_mode:
        movw    $DATA, %ax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %ss
        movq    handoff_stack, %rsp
        xorl    %ebp, %ebp
        movq    handoff_entry, %rax     /* ap_entry, in the image at 1 MiB */
        call    *%rax
1:      cli
        hlt
        jmp     1b
        .size   ap_trampoline, . - ap_trampoline

/* The hand-off block (struct handoff in main.c), filled in by the BSP after it copied the trampoline. */
        .balign 8
        .globl  handoff
        .type   handoff, @object
handoff:
handoff_gdtr:   .word 0                 /* GDT limit */
                .long 0                 /* GDT base (lgdtl: 32 bits) */
                .word 0
handoff_cr3:    .quad 0
handoff_stack:  .quad 0
handoff_entry:  .quad 0
        .size   handoff, . - handoff

        .section .note.GNU-stack, "", @progbits
