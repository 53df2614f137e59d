import Registers

/// How one architecture moves its sync groups between the kernel and a cache. The `RegisterFile` decides
/// *when* (lazily, by bitmap); a backend knows only *how* (which ioctl serves which group).
package protocol RegisterBackend: AnyObject {
    var table: RegisterTable { get }
    /// Fetch one group (a single bit) from the kernel into the cache.
    func fetch(_ group: SyncGroup) throws(KVMError)
    /// Write one group (a single bit) from the cache back to the kernel.
    func flush(_ group: SyncGroup) throws(KVMError)
    /// A register's value as the kernel holds it (`id.byteSize` bytes), from the cache; nil if the backend
    /// cannot serve it.
    func kernelValue(of register: RegisterDescriptor) -> [UInt8]?
    /// Store a kernel-sized value into the cache.
    func setKernelValue(_ bytes: [UInt8], of register: RegisterDescriptor)
    /// Just before KVM_RUN: hand dirty groups to the kernel through the shared kvm_run page where the
    /// kernel supports it (KVM_CAP_SYNC_REGS). Returns the groups so handed over; the rest are flushed by ioctl.
    func prepareRun(dirty: SyncGroup) -> SyncGroup
    /// Just after KVM_RUN: the groups the kernel already handed back in kvm_run (valid for free).
    func finishRun() -> SyncGroup
}

extension RegisterBackend {
    package func prepareRun(dirty: SyncGroup) -> SyncGroup { [] }
    package func finishRun() -> SyncGroup { [] }
}

/// The lazy register cache of one vCPU (shared/DESIGN.md, "Lazy sync"): `valid` = fetched since the last
/// KVM_RUN, `dirty` = written by gdb and not yet in the kernel. A read fetches only `wanted & ~valid`;
/// a write is read-modify-write and marks its group dirty; dirty groups go back before KVM_RUN; after it
/// everything is stale except what the kernel returned in kvm_run.
package final class RegisterFile {
    package let backend: any RegisterBackend
    package private(set) var valid: SyncGroup = []
    package private(set) var dirty: SyncGroup = []

    package init(backend: any RegisterBackend) { self.backend = backend }

    package var table: RegisterTable { backend.table }

    /// Make `groups` valid, fetching each missing group once.
    package func ensure(_ groups: SyncGroup) throws(KVMError) {
        for bit in groups.subtracting(valid).bits {
            try backend.fetch(bit)
            valid.formUnion(bit)
        }
    }

    /// A register as gdb sees it: the kernel's value, little-endian, cut or zero-extended to gdb's size.
    package func read(_ regnum: Int) throws(KVMError) -> [UInt8]? {
        guard let reg = table[regnum] else { return nil }
        try ensure(reg.syncGroup)
        guard let kernel = backend.kernelValue(of: reg) else { return nil }
        var out = [UInt8](repeating: 0, count: reg.byteSize)
        for i in 0..<min(out.count, kernel.count) { out[i] = kernel[i] }
        return out
    }

    /// Write gdb's value: the kernel bytes beyond gdb's size keep their current value. False when the register
    /// cannot be had (the backend does not serve it, or the kernel refused to read it): nothing is written.
    @discardableResult
    package func write(_ regnum: Int, _ value: [UInt8]) throws(KVMError) -> Bool {
        guard let reg = table[regnum] else { return false }
        try ensure(reg.syncGroup)
        guard var kernel = backend.kernelValue(of: reg) else { return false }
        let before = kernel
        for i in 0..<min(value.count, kernel.count) { kernel[i] = value[i] }
        guard kernel != before else { return true }  // gdb writing back what it read: nothing to hand the kernel
        backend.setKernelValue(kernel, of: reg)
        dirty.formUnion(reg.syncGroup)
        return true
    }

    /// Forget everything cached (after a KVM_RUN that failed: the kernel may have refused what was flushed).
    package func invalidateAll() {
        valid = []
        dirty = []
    }

    /// Mark a group dirty after the owner changed the cache directly (e.g. the VMM's boot state).
    package func markDirty(_ groups: SyncGroup) { dirty.formUnion(groups) }

    /// Before KVM_RUN: dirty groups go to the kernel, through kvm_run where possible, else by ioctl.
    package func flushBeforeRun() throws(KVMError) {
        let handed = backend.prepareRun(dirty: dirty)
        for bit in dirty.subtracting(handed).bits { try backend.flush(bit) }
        dirty = []
    }

    /// Write the dirty ones of `groups` back by ioctl now. When the kernel refuses, the groups are dropped from
    /// the cache (the next read fetches what the kernel kept) and the error is thrown: a write it will not take
    /// is answered at once, never at the next KVM_RUN.
    package func flush(_ groups: SyncGroup) throws(KVMError) {
        for bit in dirty.intersection(groups).bits {
            do {
                try backend.flush(bit)
                dirty.subtract(bit)
            } catch {
                dirty.subtract(bit)
                valid.subtract(bit)
                throw error
            }
        }
    }

    /// Write every dirty group back by ioctl now (the VMM's boot state, before anything reads it back).
    package func flushNow() throws(KVMError) {
        for bit in dirty.bits { try backend.flush(bit) }
        dirty = []
    }

    /// After KVM_RUN: only what the kernel handed back in kvm_run is still valid.
    package func invalidateAfterRun() {
        valid = backend.finishRun()
    }
}
