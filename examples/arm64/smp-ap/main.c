/*
 * smp-ap (arm64): the other way kvmstub starts secondary vCPUs. This guest has a symbol `ap_start` (ap.S), so
 * `kvmstub run --cpus N` starts vCPUs 1..N-1 there itself, at once, each with x0 = its index and its own stack
 * (sp = the top of RAM - index * 0x10000) — the same convention as kvmstub's x86 machine. No PSCI CPU_ON: compare
 * examples/arm64/smp, which starts them as a kernel does. (QEMU knows nothing of ap_start: under QEMU the other
 * CPUs stay off and this guest reports 1 CPU.)
 *
 * vCPU 0 learns which CPUs exist and are on with PSCI AFFINITY_INFO(MPIDR, level 0): 0 = ON, 1 = OFF,
 * 2 = ON_PENDING, INVALID_PARAMETERS (-2) for an MPIDR no CPU has. The started CPUs wait at a gate until
 * vCPU 0 has asked (so none has turned itself off yet), then each calls secondary_work(cpu), sets its own flag
 * and turns itself off (CPU_OFF); vCPU 0 waits in wait_for_cpus and prints. Undisturbed with 2 vCPUs:
 *
 *   smp-ap: cpu 0 up
 *   smp-ap: AFFINITY_INFO cpu 1: 0 (on)
 *   smp-ap: AFFINITY_INFO cpu 2: -2 (no such cpu)
 *   smp-ap: cpu 1 started at ap_start with sp 0x47ff0000, MPIDR Aff0 1, secondary_work(1) = 55
 *   smp-ap: 2 cpus reported in
 *   done
 *
 * and ends with SYSTEM_OFF (exit 0); a CPU that did not report in within about 10 s of vCPU 0's waiting, or was
 * given a stack other than the top of RAM - index * 0x10000, ends it with SYSTEM_RESET (exit 1).
 */
#include "guest.h"
#include "smp-ap.h"

#define AP_STACK_STRIDE 0x10000UL
#define WAIT_SECONDS 10
#define PSCI_AFFINITY_INFO64 0xC4000004

unsigned long ap_entry_sp[SMP_MAX_CPUS];     /* written by ap.S: the sp each CPU was started with */
volatile unsigned long reported[SMP_MAX_CPUS];
volatile unsigned long reported_mpidr[SMP_MAX_CPUS];
volatile unsigned long reported_work[SMP_MAX_CPUS];
volatile unsigned long released;            /* the gate: set by vCPU 0 in wait_for_cpus */

#include "smp.h"   /* store_release, load_acquire, secondary_work, wait_for_cpus (shared with smp) */

/* Called by ap.S on the stack kvmstub gave this CPU. */
GDB_VISIBLE void ap_main(unsigned long cpu)
{
    if (cpu == 0 || cpu >= SMP_MAX_CPUS)    /* more vCPUs than this guest has room for: just turn off */
        psci_call(PSCI_CPU_OFF, 0, 0, 0);
    while (!load_acquire(&released))
        __asm__ volatile("wfe");            /* until vCPU 0's SEV after opening the gate */
    reported_mpidr[cpu] = read_sysreg(mpidr_el1);
    reported_work[cpu] = secondary_work((int)cpu);
    store_release(&reported[cpu], 1);
    psci_call(PSCI_CPU_OFF, 0, 0, 0);       /* returns only on failure */
    for (;;)
        __asm__ volatile("wfi");
}

static void put_signed(long v)
{
    if (v < 0)
        serial_putc('-');
    serial_put_dec((unsigned long)(v < 0 ? -v : v));
}

int main(void)
{
    serial_puts("smp-ap: cpu 0 up\n");
    unsigned long cpus = 1;
    int failed = 0;
    for (unsigned long cpu = 1; cpu < SMP_MAX_CPUS; cpu++) {
        long ret = (long)(int)psci_call(PSCI_AFFINITY_INFO64, cpu, 0, 0);
        serial_puts("smp-ap: AFFINITY_INFO cpu ");
        serial_put_dec(cpu);
        serial_puts(": ");
        put_signed(ret);
        if (ret == 0) {
            serial_puts(" (on)\n");
            cpus++;
            continue;
        }
        serial_puts(ret == PSCI_INVALID_PARAMETERS ? " (no such cpu)\n" : " (not on)\n");
        break;
    }

    unsigned long in = wait_for_cpus(cpus);
    unsigned long top = entry_sp;           /* vCPU 0's sp at entry: the top of RAM (0 under QEMU) */
    for (unsigned long cpu = 1; cpu < cpus; cpu++) {
        serial_puts("smp-ap: cpu ");
        serial_put_dec(cpu);
        if (!load_acquire(&reported[cpu])) {
            serial_puts(" did not report in\n");
            failed = 1;
            continue;
        }
        unsigned long aff0 = reported_mpidr[cpu] & 0xff;
        serial_puts(" started at ap_start with sp ");
        serial_put_hex(ap_entry_sp[cpu]);
        serial_puts(", MPIDR Aff0 ");
        serial_put_dec(aff0);
        serial_puts(", secondary_work(");
        serial_put_dec(cpu);
        serial_puts(") = ");
        serial_put_dec(reported_work[cpu]);
        serial_putc('\n');
        if (aff0 != cpu || ap_entry_sp[cpu] != top - cpu * AP_STACK_STRIDE) {
            serial_puts("smp-ap: cpu ");
            serial_put_dec(cpu);
            serial_puts(" has the wrong MPIDR or stack\n");
            failed = 1;
        }
    }
    serial_puts("smp-ap: ");
    serial_put_dec(in);
    serial_puts(" cpus reported in\n");
    serial_puts("done\n");
    return failed || in != cpus ? 3 : 0;
}
