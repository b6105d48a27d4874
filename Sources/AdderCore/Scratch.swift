#if canImport(Glibc)
import Glibc
#endif

/// Per-thread scratch memory for work inside `Parallel.chunks` bodies: one growing
/// buffer per thread, kept for the thread's life, so the per-block buffers of every
/// layer and step reuse the same pages. Allocating them per call from glibc's
/// per-thread arenas returned the pages to the kernel on free and faulted them in
/// again (about 24,000 page faults per ResNet-20 step).
public enum Scratch {
    /// At least `count` floats, 64-byte aligned, valid until this thread's next call.
    /// Contents are unspecified.
    public static func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
        let bytes = Swift.max(count, 1) * MemoryLayout<Float>.stride
        if let block = pthread_getspecific(key) {
            let header = block.assumingMemoryBound(to: Int.self)
            if header.pointee >= bytes { return (UnsafeMutableRawPointer(mutating: block) + alignment).assumingMemoryBound(to: Float.self) }
            free(UnsafeMutableRawPointer(mutating: block))
        }
        var raw: UnsafeMutableRawPointer?
        precondition(posix_memalign(&raw, alignment, alignment + bytes) == 0 && raw != nil, "out of memory for \(bytes) bytes of scratch")
        raw!.assumingMemoryBound(to: Int.self).pointee = bytes
        pthread_setspecific(key, raw)
        return (raw! + alignment).assumingMemoryBound(to: Float.self)
    }

    private static let alignment = 64

    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, { free($0) }) == 0, "pthread_key_create failed")
        return key
    }()
}
