import AdderCore
import CZlib
import Foundation

/// Reads whole files, gunzipping those that start with the gzip magic, with errors
/// that name the file.
enum FileReading {
    /// Decompressed data larger than this is refused (a corrupt or hostile header
    /// must not make us allocate without bound).
    static let maximumBytes = 1 << 31

    /// Compressed or raw files larger than this are refused before reading.
    static let maximumFileBytes = 1 << 31

    static func read(_ path: String) throws(DataError) -> Data {
        let raw: Data
        do { raw = try InputFile.read(path, limit: maximumFileBytes) } catch {
            throw .file(path: path, problem: error.problem)
        }
        guard !raw.isEmpty else { throw .file(path: path, problem: "file is empty") }
        if raw.count >= 2 && raw[raw.startIndex] == 0x1F && raw[raw.startIndex + 1] == 0x8B {
            return try gunzip(raw, path: path)
        }
        return raw
    }

    static func gunzip(_ data: Data, path: String) throws(DataError) -> Data {
        var stream = z_stream()
        guard inflateInit2_(&stream, 16 + MAX_WBITS, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK else {
            throw .file(path: path, problem: "cannot start gzip decompression")
        }
        defer { inflateEnd(&stream) }
        var out = Data()
        let chunk = 1 << 20
        var buffer = [UInt8](repeating: 0, count: chunk)
        var status: Int32 = Z_OK
        let result: DataError? = data.withUnsafeBytes { (input: UnsafeRawBufferPointer) -> DataError? in
            stream.next_in = UnsafeMutablePointer(mutating: input.bindMemory(to: Bytef.self).baseAddress!)
            stream.avail_in = uInt(input.count)
            repeat {
                let produced: Int = buffer.withUnsafeMutableBufferPointer { b in
                    stream.next_out = b.baseAddress
                    stream.avail_out = uInt(chunk)
                    status = inflate(&stream, Z_NO_FLUSH)
                    return chunk - Int(stream.avail_out)
                }
                if status == Z_DATA_ERROR || status == Z_NEED_DICT || status == Z_MEM_ERROR || status == Z_STREAM_ERROR {
                    return .file(path: path, problem: "corrupt gzip data (\(String(cString: zError(status))))")
                }
                out.append(buffer, count: produced)
                if out.count > maximumBytes { return .file(path: path, problem: "decompresses to more than \(maximumBytes) bytes") }
                if status == Z_BUF_ERROR || (produced == 0 && stream.avail_in == 0 && status != Z_STREAM_END) {
                    return .file(path: path, problem: "truncated gzip stream (ended after \(out.count) decompressed bytes)")
                }
                // A gzip file may hold several members one after another (as `cat a.gz
                // b.gz` makes): read them all, as gunzip does.
                if status == Z_STREAM_END && stream.avail_in > 0 {
                    guard inflateReset(&stream) == Z_OK else { return .file(path: path, problem: "cannot restart gzip decompression") }
                    status = Z_OK
                }
            } while status != Z_STREAM_END
            return nil
        }
        if let result { throw result }
        return out
    }
}
