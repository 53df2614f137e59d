/* PSCI 0.2 function ids (SMC32 calling convention), called with `hvc #0` (QEMU virt's and KVM's conduit). */
#define PSCI_VERSION        0x84000000
#define PSCI_SYSTEM_OFF     0x84000008
#define PSCI_SYSTEM_RESET   0x84000009

/* PSCI 0.2 power management of CPUs (examples/arm64/smp). CPU_ON's 64-bit form (SMC64 convention) takes
   x1 = the target's MPIDR affinity, x2 = its entry point (physical: it starts with the MMU off), x3 = a
   context id the target finds in x0; CPU_OFF turns the caller off and returns only on failure. */
#define PSCI_CPU_OFF        0x84000002
#define PSCI_CPU_ON64       0xC4000003

/* PSCI return codes (x0, a signed 32-bit value). */
#define PSCI_SUCCESS            0
#define PSCI_NOT_SUPPORTED      -1
#define PSCI_INVALID_PARAMETERS -2     /* CPU_ON: no CPU has that MPIDR */
#define PSCI_DENIED             -3
#define PSCI_ALREADY_ON         -4
#define PSCI_ON_PENDING         -5
#define PSCI_INTERNAL_FAILURE   -6
#define PSCI_INVALID_ADDRESS    -9
