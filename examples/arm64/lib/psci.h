/* PSCI 0.2 function ids (SMC32 calling convention), called with `hvc #0` (QEMU virt's and KVM's conduit). */
#define PSCI_VERSION        0x84000000
#define PSCI_SYSTEM_OFF     0x84000008
#define PSCI_SYSTEM_RESET   0x84000009
