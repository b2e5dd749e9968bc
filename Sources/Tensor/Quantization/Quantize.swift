import CSupport
import Foundation

extension QuantizedMatrix {
    /// Float32 weights [rows, cols] rounded to Q8_0 blocks the way ggml's reference quantizer
    /// does: per 32 values, d = max |x| / 127 (stored as float16) and q = round(x / d). The
    /// rounding error is at most d / 2 per weight, about a sixteenth of Q4_1's on a block of the
    /// same range.
    public static func q8_0(_ weights: Tensor) -> QuantizedMatrix {
        precondition(weights.rank == 2, "Q8_0 of a \(weights.shape) tensor")
        let w = weights.contiguous()
        let (rows, cols) = (w.shape[0], w.shape[1])
        precondition(cols % 32 == 0, "\(cols) columns are not whole Q8_0 blocks")
        var bytes = Data(count: GGMLType.q8_0.byteCount(elements: rows * cols))
        bytes.withUnsafeMutableBytes { saro_quantize_q8_0(w.data, rows * cols, $0.baseAddress!) }
        return QuantizedMatrix(type: .q8_0, rows: rows, cols: cols, bytes: bytes)
    }
}
