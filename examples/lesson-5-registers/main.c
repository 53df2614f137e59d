/*
 * Lesson 5: how a register read becomes an ioctl.
 *
 * The guest puts values you can recognise into three kinds of register, then stops at `registers_set`
 * (the lesson's breakpoint) and exits with 0 if gdb left them alone, or with rax's low byte if gdb wrote rax:
 *
 *   rax, rbx   general-purpose registers: struct kvm_regs (KVM_GET_REGS, or kvm_run with KVM_CAP_SYNC_REGS)
 *   cr0, cr3   control registers: struct kvm_sregs (KVM_GET_SREGS, or kvm_run)
 *   STAR       an MSR (0xc0000081, the syscall segment selectors): its own ONE_REG ID on Linux 6.18+,
 *              KVM_GET_MSRS before that
 */
#include "guest.h"

#define MSR_STAR 0xc0000081u

static inline void wrmsr(unsigned int msr, unsigned long value)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((unsigned int)value), "d"((unsigned int)(value >> 32)));
}

/* What rax held after the breakpoint: gdb may have written it. */
volatile unsigned long seen_rax;

int main(void)
{
    unsigned long rax;
    serial_puts("lesson 5: registers set, stopping at registers_set\n");
    wrmsr(MSR_STAR, 0x0023001000000000UL);  /* user cs base 0x20 (+3), kernel cs 0x10: what Linux puts there */
    __asm__ volatile(
        "movabs $0x1111111111111111, %%rax\n"
        "movabs $0x2222222222222222, %%rbx\n"
        ".globl registers_set\n"
        "registers_set:\n"
        "nop\n"
        : "=a"(rax)
        :
        : "rbx");
    seen_rax = rax;
    if (rax == 0x1111111111111111UL) {
        serial_puts("rax unchanged\n");
        return 0;
    }
    serial_puts("rax changed by the debugger: ");
    serial_put_hex(rax);
    serial_putc('\n');
    return (int)(rax & 0xff);
}
