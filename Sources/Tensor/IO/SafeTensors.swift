import Support
import Foundation

/// The safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON header
/// mapping each tensor name to {dtype, shape, data_offsets}, then the raw little-endian data.
/// Reading maps the file and decodes F32, F16, BF16 (to Float32) and integer tensors on demand;
/// writing is atomic (a temporary file renamed into place).
public enum SafeTensorsError: Error, CustomStringConvertible, Equatable {
    case unreadable(file: String, reason: String)
    case corrupt(file: String, reason: String)
    case badTensor(file: String, tensor: String, reason: String)
    case missingTensor(file: String, tensor: String)

    public var description: String {
        switch self {
        case .unreadable(let f, let r): return "\(f): cannot read safetensors file: \(r)"
        case .corrupt(let f, let r): return "\(f): not a valid safetensors file: \(r)"
        case .badTensor(let f, let t, let r): return "\(f): tensor '\(t)': \(r)"
        case .missingTensor(let f, let t): return "\(f): no tensor named '\(t)'"
        }
    }
}

public struct SafeTensorsFile {
    public enum DType: String, Sendable {
        case f32 = "F32", f16 = "F16", bf16 = "BF16", f64 = "F64", i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"
        var size: Int {
            switch self {
            case .f64, .i64: return 8
            case .f32, .i32: return 4
            case .f16, .bf16, .i16: return 2
            case .i8, .u8, .bool: return 1
            }
        }
    }

    public struct Entry: Sendable {
        public let name: String
        public let dtype: DType
        public let shape: [Int]
        /// Byte range within the data section.
        public let range: Range<Int>
    }

    public let path: String
    public let entries: [String: Entry]
    public let metadata: [String: String]
    let data: Data
    let dataStart: Int

    public var names: [String] { entries.keys.sorted() }

    public init(path: String) throws {
        self.path = path
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw SafeTensorsError.unreadable(file: path, reason: (error as NSError).localizedDescription)
        }
        guard data.count >= 8 else { throw SafeTensorsError.corrupt(file: path, reason: "file has \(data.count) bytes, fewer than the 8-byte header length") }
        let headerLength = data.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard headerLength <= UInt64(data.count - 8), headerLength <= 100_000_000 else {
            throw SafeTensorsError.corrupt(file: path, reason: "header length \(headerLength) exceeds the file size \(data.count) (truncated file?)")
        }
        let header = data.subdata(in: 8..<(8 + Int(headerLength)))
        guard let json = try? JSONSerialization.jsonObject(with: header) as? [String: Any] else {
            throw SafeTensorsError.corrupt(file: path, reason: "header is not a JSON object")
        }
        let dataStart = 8 + Int(headerLength)
        let dataCount = data.count - dataStart
        var entries: [String: Entry] = [:]
        var metadata: [String: String] = [:]
        for (name, value) in json {
            if name == "__metadata__" {
                metadata = (value as? [String: String]) ?? [:]
                continue
            }
            guard let obj = value as? [String: Any], let dt = obj["dtype"] as? String,
                  let shape = (obj["shape"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }),
                  let offsets = (obj["data_offsets"] as? [Any])?.compactMap({ ($0 as? NSNumber)?.intValue }), offsets.count == 2 else {
                throw SafeTensorsError.badTensor(file: path, tensor: name, reason: "header entry lacks dtype, shape or data_offsets")
            }
            guard let dtype = DType(rawValue: dt) else {
                throw SafeTensorsError.badTensor(file: path, tensor: name, reason: "unsupported dtype \(dt)")
            }
            guard shape.allSatisfy({ $0 >= 0 }), offsets[0] >= 0, offsets[0] <= offsets[1] else {
                throw SafeTensorsError.badTensor(file: path, tensor: name, reason: "invalid shape \(shape) or offsets \(offsets)")
            }
            guard offsets[1] <= dataCount else {
                throw SafeTensorsError.badTensor(file: path, tensor: name, reason: "data ends at byte \(offsets[1]) but the file holds \(dataCount) data bytes (truncated file?)")
            }
            guard let count = Tensor.count(shape, atMost: dataCount / dtype.size) else {
                throw SafeTensorsError.badTensor(file: path, tensor: name, reason: "shape \(shape) of \(dt) needs more bytes than the file's \(dataCount) data bytes")
            }
            let expected = count * dtype.size
            guard offsets[1] - offsets[0] == expected else {
                throw SafeTensorsError.badTensor(file: path, tensor: name, reason: "\(offsets[1] - offsets[0]) bytes for shape \(shape) of \(dt), expected \(expected)")
            }
            entries[name] = Entry(name: name, dtype: dtype, shape: shape, range: offsets[0]..<offsets[1])
        }
        self.entries = entries
        self.metadata = metadata
        self.data = data
        self.dataStart = dataStart
    }

    /// The tensor decoded to Float32 (from F32, F16, BF16, F64 or an integer type).
    public func tensor(_ name: String) throws -> Tensor {
        guard let e = entries[name] else { throw SafeTensorsError.missingTensor(file: path, tensor: name) }
        let out = Tensor(uninitialized: e.shape)
        let n = out.count
        data.withUnsafeBytes { raw in
            let src = raw.baseAddress! + dataStart + e.range.lowerBound
            let dst = out.data
            switch e.dtype {
            case .f32: for i in 0..<n { dst[i] = Float(bitPattern: UInt32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
            case .f16: HalfPrecision.decodeF16(src, count: n, into: dst)
            case .bf16: HalfPrecision.decodeBF16(src, count: n, into: dst)
            case .f64: for i in 0..<n { dst[i] = Float(Double(bitPattern: UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
            case .i64: for i in 0..<n { dst[i] = Float(Int64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))) }
            case .i32: for i in 0..<n { dst[i] = Float(Int32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))) }
            case .i16: for i in 0..<n { dst[i] = Float(Int16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))) }
            case .i8: for i in 0..<n { dst[i] = Float(src.load(fromByteOffset: i, as: Int8.self)) }
            case .u8, .bool: for i in 0..<n { dst[i] = Float(src.load(fromByteOffset: i, as: UInt8.self)) }
            }
        }
        return out
    }

    /// An integer tensor's values (I64, I32, I16, I8, U8).
    public func integers(_ name: String) throws -> [Int] {
        guard let e = entries[name] else { throw SafeTensorsError.missingTensor(file: path, tensor: name) }
        guard [.i64, .i32, .i16, .i8, .u8].contains(e.dtype) else {
            throw SafeTensorsError.badTensor(file: path, tensor: name, reason: "expected an integer dtype, found \(e.dtype.rawValue)")
        }
        return try tensor(name).scalars.map { Int($0) }
    }

    /// Writes tensors as safetensors (F32, or BF16/F16 when asked), atomically.
    public static func write(_ tensors: [String: Tensor], to path: String, dtype: DType = .f32, metadata: [String: String] = [:]) throws {
        precondition([.f32, .f16, .bf16].contains(dtype), "safetensors writer supports F32, F16 and BF16")
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let names = tensors.keys.sorted()
        for name in names {
            let t = tensors[name]!
            let bytes = t.count * dtype.size
            header[name] = ["dtype": dtype.rawValue, "shape": t.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        var headerData = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while (8 + headerData.count) % 8 != 0 { headerData.append(0x20) }  // pad to 8-byte alignment with spaces
        var out = Data(capacity: 8 + headerData.count + offset)
        var len = UInt64(headerData.count).littleEndian
        withUnsafeBytes(of: &len) { out.append(contentsOf: $0) }
        out.append(headerData)
        for name in names {
            let t = tensors[name]!.contiguous()
            switch dtype {
            case .f32: out.append(Data(bytes: t.data, count: t.count * 4))
            case .bf16: t.bf16Bits.withUnsafeBytes { out.append(contentsOf: $0) }
            default: t.f16Bits.withUnsafeBytes { out.append(contentsOf: $0) }
            }
        }
        try AtomicFile.write(out, to: path)
    }
}
