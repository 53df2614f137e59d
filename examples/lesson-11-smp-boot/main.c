/*
 * Lesson 11: booting a second CPU the way kernels do. Run with `kvmstub run --irqchip --cpus 2`.
 *
 * This guest has no `ap_start` (examples/build.sh leaves it out when a guest has a trampoline.S), so kvmstub
 * leaves vCPU 1 as KVM creates it with an in-kernel LAPIC: in the reset state, waiting for INIT and a Startup
 * IPI. The BSP (vCPU 0, main) builds the page tables and GDT both CPUs will use, mapping its LAPIC at
 * 0xfee00000 uncached; copies the trampoline (trampoline.S) to 0x8000 and fills in its hand-off block; sends
 * INIT, then the SIPI twice as the MP specification says, each through the LAPIC's interrupt command register
 * (ICR); and waits for the AP to count itself in `aps_started`. The AP climbs from real mode to long mode in the
 * trampoline, calls ap_entry, which reads its LAPIC id, says hello on the serial port, counts itself and halts.
 * main returns 0 when the AP answered (the exit status), 1 when it did not.
 */
#include "guest.h"

#define LAPIC_BASE 0xfee00000UL
#define LAPIC_ID 0x020
#define LAPIC_VERSION 0x030
#define LAPIC_SVR 0x0f0             /* spurious-interrupt vector register: bit 8 enables the LAPIC */
#define LAPIC_ICR_LOW 0x300         /* interrupt command register: writing the low half sends the IPI */
#define LAPIC_ICR_HIGH 0x310        /* bits 31-24: the destination's LAPIC id */
#define LAPIC_TIMER_LVT 0x320
#define LAPIC_TIMER_INITIAL 0x380
#define LAPIC_TIMER_CURRENT 0x390
#define LAPIC_TIMER_DIVIDE 0x3e0

#define ICR_INIT 0x500              /* delivery mode 101 */
#define ICR_STARTUP 0x600           /* delivery mode 110; the vector is the start page's number */
#define ICR_LEVEL_ASSERT 0x4000
#define ICR_LEVEL_TRIGGER 0x8000
#define ICR_PENDING 0x1000          /* delivery status: sent, not yet accepted */

#define TRAMPOLINE 0x8000UL         /* below 1 MiB and page-aligned: the SIPI vector is 0x8000 >> 12 = 8 */
#define AP_LAPIC_ID 1
#define AP_WAIT_MS 2000

/* What trampoline.S reads; it lives at the trampoline's end (symbol `handoff`, at its run-time address). */
struct handoff {
    unsigned short gdt_limit;
    unsigned int gdt_base;          /* lgdtl in real mode takes a 32-bit base */
    unsigned short pad;
    unsigned long cr3;
    unsigned long stack;
    unsigned long entry;
} __attribute__((packed));
extern struct handoff handoff;
extern char __trampoline_load[], __trampoline_start[], __trampoline_end[];

/* The GDT both CPUs load: null, 64-bit code, data, 32-bit code (the trampoline's protected-mode step). */
static unsigned long gdt[4] __attribute__((aligned(8))) = {
    0, 0x00af9b000000ffffUL, 0x00cf93000000ffffUL, 0x00cf9b000000ffffUL,
};

/* Page tables: the first GiB identity-mapped in 2 MiB pages; the LAPIC's 4 KiB page, uncached (PCD, PWT). */
static unsigned long pml4[512] __attribute__((aligned(4096)));
static unsigned long pdpt[512] __attribute__((aligned(4096)));
static unsigned long pd_low[512] __attribute__((aligned(4096)));
static unsigned long pd_lapic[512] __attribute__((aligned(4096)));
static unsigned long pt_lapic[512] __attribute__((aligned(4096)));

#define PTE_P 0x1UL
#define PTE_W 0x2UL
#define PTE_PWT 0x8UL
#define PTE_PCD 0x10UL
#define PTE_PS 0x80UL

static unsigned char ap_stack[16384] __attribute__((aligned(16)));

volatile unsigned int aps_started;  /* each AP adds 1; the BSP waits for it */
volatile unsigned int ap_lapic_id = 0xff;  /* the id the AP read from its own LAPIC */

GDB_VISIBLE void lapic_write(unsigned int reg, unsigned int value)
{
    *(volatile unsigned int *)(LAPIC_BASE + reg) = value;
}

GDB_VISIBLE unsigned int lapic_read(unsigned int reg)
{
    return *(volatile unsigned int *)(LAPIC_BASE + reg);
}

static void build_page_tables(void)
{
    pml4[0] = (unsigned long)pdpt | PTE_P | PTE_W;
    pdpt[0] = (unsigned long)pd_low | PTE_P | PTE_W;
    for (unsigned long i = 0; i < 512; i++)
        pd_low[i] = (i << 21) | PTE_P | PTE_W | PTE_PS;
    pdpt[LAPIC_BASE >> 30] = (unsigned long)pd_lapic | PTE_P | PTE_W;
    pd_lapic[(LAPIC_BASE >> 21) & 511] = (unsigned long)pt_lapic | PTE_P | PTE_W;
    pt_lapic[(LAPIC_BASE >> 12) & 511] = LAPIC_BASE | PTE_P | PTE_W | PTE_PCD | PTE_PWT;
}

/* Switch vCPU 0 from kvmstub's boot GDT and page tables to the ones the AP will share. */
static void load_gdt_and_page_tables(void)
{
    struct { unsigned short limit; unsigned long base; } __attribute__((packed)) gdtr = {
        sizeof(gdt) - 1, (unsigned long)gdt,
    };
    __asm__ volatile(
        "lgdt %0\n"
        "pushq $0x08\n"                 /* reload cs through a far return */
        "leaq 1f(%%rip), %%rax\n"
        "pushq %%rax\n"
        "lretq\n"
        "1: movw $0x10, %%ax\n"
        "movw %%ax, %%ds\n"
        "movw %%ax, %%es\n"
        "movw %%ax, %%ss\n"
        "movq %1, %%cr3\n"
        : : "m"(gdtr), "r"((unsigned long)pml4) : "rax", "memory");
}

/* Busy-wait with the LAPIC timer, masked (no interrupt), one-shot, counting down at KVM's 1 GHz bus clock
   (divide by 1): 1000 counts a microsecond. On real hardware the bus clock is slower, so the wait is longer. */
GDB_VISIBLE void delay_us(unsigned int us)
{
    lapic_write(LAPIC_TIMER_DIVIDE, 0xb);
    lapic_write(LAPIC_TIMER_LVT, 1 << 16);
    lapic_write(LAPIC_TIMER_INITIAL, us * 1000);
    while (lapic_read(LAPIC_TIMER_CURRENT) != 0)
        ;
}

/* Wait until `count` APs have counted themselves, at most `ms` milliseconds of the time the guest runs: one
   1 ms LAPIC-timer period at a time, so a stop in gdb cuts one period short, not the whole wait. */
GDB_VISIBLE int wait_for_aps(unsigned int count, unsigned int ms)
{
    lapic_write(LAPIC_TIMER_DIVIDE, 0xb);
    lapic_write(LAPIC_TIMER_LVT, 1 << 16);
    for (unsigned int waited = 0; waited < ms; waited++) {
        lapic_write(LAPIC_TIMER_INITIAL, 1000 * 1000);
        while (lapic_read(LAPIC_TIMER_CURRENT) != 0)
            if (aps_started >= count)
                return 1;
    }
    return aps_started >= count;
}

/* One IPI: destination first (ICR high), then the command (ICR low), which sends it; wait until accepted. */
GDB_VISIBLE void send_ipi(unsigned int apic_id, unsigned int icr)
{
    lapic_write(LAPIC_ICR_HIGH, apic_id << 24);
    lapic_write(LAPIC_ICR_LOW, icr);
    while (lapic_read(LAPIC_ICR_LOW) & ICR_PENDING)
        ;
}

/* The AP, in long mode on its own stack, called by the trampoline. */
GDB_VISIBLE void ap_entry(void)
{
    unsigned int id = lapic_read(LAPIC_ID) >> 24;
    ap_lapic_id = id;
    serial_puts("AP: hello from LAPIC id ");
    serial_put_dec(id);
    serial_puts(", in long mode\n");
    __atomic_add_fetch(&aps_started, 1, __ATOMIC_SEQ_CST);
    halt_forever();
}

/* INIT, then SIPI twice (Intel MP specification, appendix B.4), to the CPU whose LAPIC id is `apic_id`. */
GDB_VISIBLE void start_ap(unsigned int apic_id)
{
    memcpy((void *)TRAMPOLINE, __trampoline_load, (unsigned long)(__trampoline_end - __trampoline_start));
    handoff.gdt_limit = sizeof(gdt) - 1;
    handoff.gdt_base = (unsigned int)(unsigned long)gdt;
    handoff.cr3 = (unsigned long)pml4;
    handoff.stack = (unsigned long)ap_stack + sizeof(ap_stack);
    handoff.entry = (unsigned long)ap_entry;

    send_ipi(apic_id, ICR_INIT | ICR_LEVEL_TRIGGER | ICR_LEVEL_ASSERT);
    send_ipi(apic_id, ICR_INIT | ICR_LEVEL_TRIGGER);    /* de-assert */
    delay_us(10000);
    for (int i = 0; i < 2; i++) {
        send_ipi(apic_id, ICR_STARTUP | (unsigned int)(TRAMPOLINE >> 12));
        delay_us(200);
    }
}

int main(void)
{
    build_page_tables();
    load_gdt_and_page_tables();
    serial_puts("BSP: LAPIC id ");
    serial_put_dec(lapic_read(LAPIC_ID) >> 24);
    serial_puts(", version ");
    serial_put_hex(lapic_read(LAPIC_VERSION));
    serial_putc('\n');
    /* Enabled (SVR bit 8), as kernels do before they send IPIs: KVM delivers none written to the ICR of a
       software-disabled xAPIC (the lesson's "Forget to enable the LAPIC"). */
    lapic_write(LAPIC_SVR, 0x100 | 0xff);
    start_ap(AP_LAPIC_ID);
    if (!wait_for_aps(1, AP_WAIT_MS)) {
        serial_puts("BSP: no AP answered: run with --irqchip --cpus 2\n");
        return 1;
    }
    serial_puts("BSP: the AP with LAPIC id ");
    serial_put_dec(ap_lapic_id);
    serial_puts(" is up\n");
    return 0;
}
