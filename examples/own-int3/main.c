/*
 * own-int3: a guest that uses int3 itself. It installs an IDT whose #BP handler counts `own_int3s` and returns,
 * runs int3 twice, then calls after_own_int3s() (a place for gdb's breakpoints) and bumps `watched` (a place
 * for its watchpoints). Undisturbed it prints
 *
 *   own-int3: 2 int3s handled by the guest
 *   own-int3: watched=1
 *
 * and exits with 0 (1 if its handler did not see exactly two int3s, 2 if `watched` is not 1).
 *
 * A debugger that catches int3 (KVM_GUESTDBG_USE_SW_BP) must hand these two back to the guest (#BP
 * re-injected) and keep its own breakpoints and watchpoints working through both.
 */
#include "guest.h"

volatile unsigned long own_int3s;
volatile unsigned long watched;

struct idt_gate {
    unsigned short offset_low;
    unsigned short selector;
    unsigned char ist;
    unsigned char type;         /* 0x8e: present, DPL 0, 64-bit interrupt gate */
    unsigned short offset_mid;
    unsigned int offset_high;
    unsigned int reserved;
} __attribute__((packed));

static struct idt_gate idt[32] __attribute__((aligned(16)));

extern char breakpoint_handler[], unexpected_exception[];
__asm__(
    "  .text\n"
    "  .globl breakpoint_handler, unexpected_exception\n"
    "  .type breakpoint_handler, @function\n"
    "breakpoint_handler:\n"          /* #BP is a trap: the pushed rip is past the int3 */
    "  lock incq own_int3s(%rip)\n"
    "  iretq\n"
    "  .size breakpoint_handler, . - breakpoint_handler\n"
    "  .type unexpected_exception, @function\n"
    "unexpected_exception:\n"
    "  movb $99, %al\n"
    "  outb %al, $0xf4\n"            /* the exit port: kvmstub ends the run with 99 */
    "1: cli\n"
    "  hlt\n"
    "  jmp 1b\n"
    "  .size unexpected_exception, . - unexpected_exception\n");

static void set_gate(int vector, void *handler)
{
    unsigned long a = (unsigned long)handler;
    idt[vector] = (struct idt_gate){
        .offset_low = a & 0xffff, .selector = 0x08, .type = 0x8e,
        .offset_mid = (a >> 16) & 0xffff, .offset_high = a >> 32,
    };
}

GDB_VISIBLE void after_own_int3s(void)
{
    watched++;
}

int main(void)
{
    struct { unsigned short limit; unsigned long base; } __attribute__((packed)) idtr = {
        sizeof(idt) - 1, (unsigned long)idt,
    };
    for (int v = 0; v < 32; v++)
        set_gate(v, unexpected_exception);
    set_gate(3, breakpoint_handler);
    __asm__ volatile("lidt %0" : : "m"(idtr));

    __asm__ volatile("int3");
    __asm__ volatile("int3");
    after_own_int3s();

    serial_puts("own-int3: ");
    serial_put_dec(own_int3s);
    serial_puts(" int3s handled by the guest\n");
    serial_puts("own-int3: watched=");
    serial_put_dec(watched);
    serial_putc('\n');
    if (own_int3s != 2)
        return 1;
    return watched == 1 ? 0 : 2;
}
