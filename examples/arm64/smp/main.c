/*
 * smp (arm64): vCPU 0 starts the other CPUs the way an arm64 kernel does, with PSCI CPU_ON, and each of them
 * reports in. Run with `kvmstub run --cpus 2` (up to SMP_MAX_CPUS; gdb-scripts/arm64/smp.gdb), or under
 * `qemu-system-aarch64 -M virt -cpu max -smp 2 -nographic -kernel smp.elf`.
 *
 * How a CPU is identified: by its MPIDR_EL1 (multiprocessor affinity register), whose affinity fields Aff3.Aff2
 * .Aff1.Aff0 name it in the system's topology; on kvmstub's and QEMU virt's small machines CPU i has Aff0 = i.
 * How it is started: this guest has no `ap_start` symbol, so kvmstub creates vCPUs 1..N-1 powered off
 * (KVM_ARM_VCPU_POWER_OFF). PSCI (the Power State Coordination Interface, a call into the hypervisor with
 * `hvc #0`; KVM implements it in the kernel) function CPU_ON(target MPIDR, entry point, context id) powers the
 * target on: it starts at the entry point in EL1h with the MMU off, x0 = the context id, nothing else set up —
 * not even sp (entry.S gives it its own stack). CPU_ON answers INVALID_PARAMETERS (-2) for an MPIDR no CPU has,
 * which is how vCPU 0 finds out how many CPUs there are. A CPU turns itself off with CPU_OFF.
 *
 * The protocol, through memory only (every CPU runs with the MMU off, so every data access is Device memory,
 * where exclusive loads/stores — the usual spin lock — need not work: each CPU writes only its own flag, and
 * vCPU 0 alone prints):
 *   1. vCPU 0 starts CPUs 1, 2, ... with CPU_ON until one does not exist (or SMP_MAX_CPUS);
 *   2. each started CPU waits at a gate (`released`) that vCPU 0 opens only once it is in wait_for_cpus —
 *      so every report comes while vCPU 0 waits there, which the gdb session checks;
 *   3. each CPU reads its MPIDR, calls secondary_work(cpu) (a function to break on), stores its results and
 *      sets reported[cpu], then calls CPU_OFF;
 *   4. vCPU 0 waits for every flag, prints what each CPU reported and a summary line, and powers the machine
 *      off (PSCI SYSTEM_OFF, main returning 0).
 *
 * Undisturbed with 2 CPUs it prints
 *
 *   smp: cpu 0 up, MPIDR Aff0 0
 *   smp: CPU_ON cpu 1: 0 (started)
 *   smp: CPU_ON cpu 2: -2 (no such cpu)
 *   smp: cpu 1 reported in: MPIDR Aff0 1, sp 0x40..., secondary_work(1) = 55
 *   smp: 2 cpus reported in
 *   done
 *
 * and ends with SYSTEM_OFF (kvmstub exits 0); a CPU that did not report in within about 10 s of vCPU 0's
 * waiting (time stopped in gdb does not count) or reported wrong values ends it with SYSTEM_RESET (exits 1).
 */
#include "guest.h"

#define SMP_MAX_CPUS 4              /* the most CPUs it starts (and has stacks for) */
#define STACK_SIZE 4096
#define WAIT_SECONDS 10

/* Every CPU's own stack; vCPU 0 keeps the one its loader gave it (slot 0 unused). 16-byte aligned, as AArch64's
   sp must be. entry.S loads secondary_stack_top[cpu] into sp. */
static unsigned char secondary_stacks[SMP_MAX_CPUS][STACK_SIZE] __attribute__((aligned(16)));
unsigned long secondary_stack_top[SMP_MAX_CPUS];
extern char secondary_entry[];

/* Written by one CPU each (index = cpu), read by vCPU 0 once reported[cpu] is set. */
volatile unsigned long reported[SMP_MAX_CPUS];
volatile unsigned long reported_mpidr[SMP_MAX_CPUS];
volatile unsigned long reported_sp[SMP_MAX_CPUS];
volatile unsigned long reported_work[SMP_MAX_CPUS];
volatile unsigned long released;    /* the gate: set by vCPU 0 in wait_for_cpus */

#include "smp.h"   /* store_release, load_acquire, secondary_work, wait_for_cpus (shared with smp-ap) */

static inline unsigned long current_sp(void)
{
    unsigned long sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    return sp;
}

/* Called by entry.S on the CPU's own stack, cpu = CPU_ON's context id. */
GDB_VISIBLE void secondary_main(unsigned long cpu)
{
    while (!load_acquire(&released))
        __asm__ volatile("wfe");    /* sleep until an event: vCPU 0's SEV after opening the gate */
    reported_mpidr[cpu] = read_sysreg(mpidr_el1);
    reported_sp[cpu] = current_sp();
    reported_work[cpu] = secondary_work((int)cpu);
    store_release(&reported[cpu], 1);   /* last: vCPU 0 reads the values above once it sees this */
    psci_call(PSCI_CPU_OFF, 0, 0, 0);   /* returns only on failure */
    for (;;)
        __asm__ volatile("wfi");
}

/* Start CPU `cpu` at secondary_entry on its own stack; PSCI's answer (0 = started). */
GDB_VISIBLE long start_cpu(unsigned long cpu)
{
    secondary_stack_top[cpu] = (unsigned long)&secondary_stacks[cpu][STACK_SIZE];
    /* The target MPIDR: Aff0 = cpu (Aff1..Aff3 = 0) on these machines. */
    return (long)(int)psci_call(PSCI_CPU_ON64, cpu, (unsigned long)secondary_entry, cpu);
}

int main(void)
{
    serial_puts("smp: cpu 0 up, MPIDR Aff0 ");
    serial_put_dec(read_sysreg(mpidr_el1) & 0xff);
    serial_putc('\n');

    /* Start CPU 1, 2, ... until one does not exist. */
    unsigned long cpus = 1;
    int failed = 0;
    for (unsigned long cpu = 1; cpu < SMP_MAX_CPUS; cpu++) {
        long ret = start_cpu(cpu);
        serial_puts("smp: CPU_ON cpu ");
        serial_put_dec(cpu);
        serial_puts(": ");
        if (ret < 0)
            serial_putc('-');
        serial_put_dec((unsigned long)(ret < 0 ? -ret : ret));
        if (ret == PSCI_SUCCESS) {
            serial_puts(" (started)\n");
            cpus++;
            continue;
        }
        if (ret == PSCI_INVALID_PARAMETERS) {
            serial_puts(" (no such cpu)\n");
        } else {
            serial_puts(" (unexpected)\n");
            failed = 1;
        }
        break;
    }

    unsigned long in = wait_for_cpus(cpus);
    for (unsigned long cpu = 1; cpu < cpus; cpu++) {
        serial_puts("smp: cpu ");
        serial_put_dec(cpu);
        if (!load_acquire(&reported[cpu])) {
            serial_puts(" did not report in\n");
            failed = 1;
            continue;
        }
        unsigned long aff0 = reported_mpidr[cpu] & 0xff, sp = reported_sp[cpu];
        unsigned long stack = (unsigned long)secondary_stacks[cpu];
        serial_puts(" reported in: MPIDR Aff0 ");
        serial_put_dec(aff0);
        serial_puts(", sp ");
        serial_put_hex(sp);
        serial_puts(", secondary_work(");
        serial_put_dec(cpu);
        serial_puts(") = ");
        serial_put_dec(reported_work[cpu]);
        serial_putc('\n');
        if (aff0 != cpu || sp <= stack || sp > stack + STACK_SIZE) {
            serial_puts("smp: cpu ");
            serial_put_dec(cpu);
            serial_puts(" has the wrong MPIDR or is not on its own stack\n");
            failed = 1;
        }
    }
    serial_puts("smp: ");
    serial_put_dec(in);
    serial_puts(" cpus reported in\n");
    serial_puts("done\n");
    return failed || in != cpus ? 3 : 0;
}
