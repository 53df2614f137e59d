/*
 * What the two SMP example guests share — examples/arm64/smp (the CPUs started with PSCI CPU_ON) and
 * examples/arm64/smp-ap (started by kvmstub at ap_start): ordered plain loads and stores, the work a secondary
 * CPU does (a function to break on), and vCPU 0's wait for the others to report in.
 *
 * The guest defines SMP_MAX_CPUS and WAIT_SECONDS before including this, and the flags `reported[]` (one per
 * CPU, set by that CPU once its results are stored) and `released` (the gate vCPU 0 opens in wait_for_cpus).
 */
#pragma once
#include "guest.h"

extern volatile unsigned long reported[SMP_MAX_CPUS];
extern volatile unsigned long released;

/* Plain loads and stores with ordering (LDAR/STLR): no exclusives, so they work on Device memory too — with the
   MMU off every data access is Device memory, where the usual spin lock (LDAXR/STLXR) need not work. A release
   store makes every earlier store visible before the flag; an acquire load orders every later load after it. */
static inline void store_release(volatile unsigned long *p, unsigned long v)
{
    __atomic_store_n(p, v, __ATOMIC_RELEASE);
}

static inline unsigned long load_acquire(volatile unsigned long *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline unsigned long counter_ticks(void)
{
    unsigned long t;
    __asm__ volatile("isb; mrs %0, cntvct_el0" : "=r"(t)::"memory");
    return t;
}

/* What a secondary CPU does once started: 1 + 2 + ... + 10*cpu (55 for cpu 1). Break here to stop that CPU. */
static GDB_VISIBLE unsigned long secondary_work(int cpu)
{
    unsigned long sum = 0;
    for (int i = 1; i <= 10 * cpu; i++)
        sum += (unsigned long)i;
    return sum;
}

/* Open the gate, then wait until the CPUs 1..count-1 have all reported in, for WAIT_SECONDS of the time vCPU 0
   actually spins here: the generic timer's count advances while gdb holds the machine stopped too, so a gap of
   more than 10 ms between two looks is taken for such a stop and not counted. Returns how many reported in,
   vCPU 0 included. */
static GDB_VISIBLE unsigned long wait_for_cpus(unsigned long count)
{
    unsigned long freq = read_sysreg(cntfrq_el0), waited = 0, last = counter_ticks();
    store_release(&released, 1);
    __asm__ volatile("sev");        /* wake the CPUs sleeping in WFE at the gate */
    for (;;) {
        unsigned long n = 1;
        for (unsigned long cpu = 1; cpu < count; cpu++)
            n += load_acquire(&reported[cpu]);
        if (n == count || waited > WAIT_SECONDS * freq)
            return n;
        unsigned long now = counter_ticks(), gap = now - last;
        last = now;
        if (gap < freq / 100)
            waited += gap;
    }
}
