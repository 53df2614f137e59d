/*
 * brk (arm64): a guest that executes BRK itself and handles it (VBAR_EL1 = lib/vectors.S), to show that a
 * debugger's software breakpoints (kvmstub plants BRK #0 and has KVM trap every BRK) leave the guest's own
 * BRKs to the guest. It runs `brk #0x42` and `brk #0` (the same instruction kvmstub plants) at addresses where
 * gdb has no breakpoint; its handler counts them, records each immediate (ESR_EL1.ISS) and returns past
 * them. Undisturbed it prints
 *
 *   brk #0x42 handled at own_brk_42
 *   brk #0x0 handled at own_brk_0
 *   brks=2
 *   done
 *
 * and ends with PSCI SYSTEM_OFF (kvmstub exits 0); if a BRK was swallowed (or reported at another address),
 * the count or the line differs and it ends with SYSTEM_RESET (exits 1).
 */
#include "guest.h"

extern char own_brk_42[], own_brk_0[];
volatile unsigned long brks;
volatile unsigned long last_imm, last_elr;

void on_exception(struct frame *f, unsigned kind)
{
    unsigned long esr = read_sysreg(esr_el1);
    if (kind != 4 || (esr >> 26) != 0x3c) {         /* sync, current EL, SP_ELx; EC 0x3c = BRK (AArch64) */
        serial_puts("unexpected exception: vector ");
        serial_put_dec(kind);
        serial_puts(" esr=");
        serial_put_hex(esr);
        serial_puts(" elr=");
        serial_put_hex(f->elr);
        serial_putc('\n');
        psci_call(PSCI_SYSTEM_RESET, 0, 0, 0);
    }
    brks++;
    last_imm = esr & 0xffff;
    last_elr = f->elr;
    f->elr += 4;                                     /* ELR is the BRK itself: return past it */
}

GDB_VISIBLE void report(const char *where, unsigned long expected_elr)
{
    serial_puts("brk #");
    serial_put_hex(last_imm);
    serial_puts(last_elr == expected_elr ? " handled at " : " handled ELSEWHERE than ");
    serial_puts(where);
    serial_putc('\n');
}

GDB_VISIBLE void after_brks(void)
{
    serial_puts("brks=");
    serial_put_dec(brks);
    serial_putc('\n');
}

int main(void)
{
    write_sysreg(vbar_el1, el1_vectors);
    isb();
    __asm__ volatile(".global own_brk_42\nown_brk_42: brk #0x42" ::: "memory");
    report("own_brk_42", (unsigned long)own_brk_42);
    __asm__ volatile(".global own_brk_0\nown_brk_0: brk #0" ::: "memory");
    report("own_brk_0", (unsigned long)own_brk_0);
    after_brks();
    serial_puts("done\n");
    return brks == 2 && last_elr == (unsigned long)own_brk_0 ? 0 : 3;
}
