print("kvmstub")
