/* What examples/arm64/smp-ap's C and assembly share. */
#define SMP_MAX_CPUS 4              /* the CPUs it has room for; one started beyond them just turns itself off */
