#if canImport(Glibc)
import Glibc
#endif

/// Process-wide allocator settings for training.
public enum Memory {
    /// Keeps freed tensor buffers in the heap for reuse instead of returning them to
    /// the kernel. glibc serves blocks over its mmap threshold with fresh mappings and
    /// trims freed memory back to the kernel, so every step's activations (8 MiB each
    /// for ResNet-20 at batch 128) cost page faults and page zeroing: 6% of a ResNet-20
    /// AdderNet step under `perf`. Freed memory is not given back between steps. Call
    /// once, before training, before other threads allocate.
    public static func retainFreedBlocks() {
        #if canImport(Glibc)
        // mallopt is declared in <malloc.h>, which Swift's Glibc module does not
        // import; look it up instead (absent on a non-glibc libc: then nothing changes).
        typealias Mallopt = @convention(c) (Int32, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
        let mallopt = unsafeBitCast(symbol, to: Mallopt.self)
        let trimThreshold: Int32 = -1, mmapThreshold: Int32 = -3, arenaMax: Int32 = -8   // M_TRIM_THRESHOLD, …
        _ = mallopt(mmapThreshold, 32 << 20)   // glibc's maximum on 64-bit
        _ = mallopt(trimThreshold, 1 << 30)
        // One arena: otherwise each GCD worker thread that allocates gets its own and each
        // keeps what it freed (ResNet-20 AdderNet at batch 128, peak: 364–672 MiB over four
        // runs; 358–368 in two runs with MALLOC_ARENA_MAX=1; 384–588 in three with this).
        _ = mallopt(arenaMax, 1)
        #endif
    }

    /// Returns the heap's free memory to the kernel now (glibc `malloc_trim`), so that
    /// a measurement of peak resident memory that follows starts from what is in use,
    /// not from what earlier work freed and `retainFreedBlocks` kept.
    public static func releaseFreedBlocks() {
        #if canImport(Glibc)
        typealias MallocTrim = @convention(c) (Int) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return }
        _ = unsafeBitCast(symbol, to: MallocTrim.self)(0)
        #endif
    }

    /// Resets the kernel's peak-RSS counter for this process (Linux ≥ 4.0).
    public static func resetPeakResident() {
        #if canImport(Glibc)
        let fd = open("/proc/self/clear_refs", O_WRONLY)
        guard fd >= 0 else { return }
        _ = write(fd, "5", 1)
        close(fd)
        #endif
    }

    /// VmHWM: the peak resident set size since the last reset, in MiB (NaN where /proc is absent).
    public static func peakResidentMiB() -> Double {
        #if canImport(Glibc)
        let fd = open("/proc/self/status", O_RDONLY)
        guard fd >= 0 else { return .nan }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 8192)
        let n = read(fd, &buffer, buffer.count)
        guard n > 0 else { return .nan }
        let text = String(decoding: buffer.prefix(n), as: UTF8.self)
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }),
              let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return .nan }
        return kb / 1024
        #else
        return .nan
        #endif
    }
}
