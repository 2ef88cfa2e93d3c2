import CISAL

/// Streaming gzip decompression with Intel ISA-L (`isal_inflate`), which checks each member's
/// CRC and length as zlib would, at two to three times zlib's speed.
///
/// Concatenated gzip members are read one after the other, as gzip(1) does.
struct GzipInflater {
    private var state = inflate_state()
    /// True once the last member ended and no further member followed.
    private(set) var finished = false

    init() {
        isal_inflate_init(&state)
        state.crc_flag = UInt32(ISAL_GZIP)
    }

    /// Decompresses from `input` into `output`; returns (bytes of input used, bytes written).
    mutating func inflate(_ input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, layer: String) throws -> (consumed: Int, produced: Int) {
        guard !finished, let outputBase = output.baseAddress else { return (0, 0) }
        var consumed = 0
        var produced = 0
        while produced < output.count && consumed < input.count && !finished {
            state.next_in = UnsafeMutablePointer(mutating: input.baseAddress?.assumingMemoryBound(to: UInt8.self).advanced(by: consumed))
            state.avail_in = UInt32(input.count - consumed)
            state.next_out = (outputBase + produced).assumingMemoryBound(to: UInt8.self)
            state.avail_out = UInt32(output.count - produced)
            let status = isal_inflate(&state)
            guard status == ISAL_DECOMP_OK || status == ISAL_END_INPUT else {
                throw UnpackError.unreadable(layer: layer, reason: Self.describe(status))
            }
            consumed = input.count - Int(state.avail_in)
            produced = output.count - Int(state.avail_out)
            if state.block_state == ISAL_BLOCK_FINISH {
                // Another member may follow; anything else after the stream is left unread.
                let rest = input.count - consumed
                if rest >= 2, let base = input.baseAddress, base.load(fromByteOffset: consumed, as: UInt8.self) == 0x1F,
                    base.load(fromByteOffset: consumed + 1, as: UInt8.self) == 0x8B
                {
                    isal_inflate_reset(&state)
                    state.crc_flag = UInt32(ISAL_GZIP)
                } else if rest > 0 {
                    finished = true
                } else {
                    // The member ended exactly at the end of this input: the next read decides.
                    atMemberBoundary = true
                    break
                }
            }
            if status == ISAL_END_INPUT && state.avail_in == 0 { break }
        }
        return (consumed, produced)
    }

    /// Set when a member ended at the end of the input given; the next input either starts a
    /// new member or the stream is over.
    private var atMemberBoundary = false

    /// Called with the first bytes read after a member ended at an input boundary (empty at end
    /// of file): starts the next member or finishes.
    mutating func continueAfterBoundary(_ next: UnsafeRawBufferPointer) {
        guard atMemberBoundary else { return }
        atMemberBoundary = false
        if next.count >= 2, next[0] == 0x1F, next[1] == 0x8B {
            isal_inflate_reset(&state)
            state.crc_flag = UInt32(ISAL_GZIP)
        } else {
            finished = true
        }
    }

    /// Whether the stream ended properly (the last member's trailer was read).
    var isComplete: Bool { finished || atMemberBoundary || state.block_state == ISAL_BLOCK_FINISH }

    static func describe(_ status: Int32) -> String {
        switch status {
        case ISAL_INVALID_BLOCK: return "invalid gzip data (corrupt deflate block)"
        case ISAL_INVALID_SYMBOL: return "invalid gzip data (bad symbol)"
        case ISAL_INVALID_LOOKBACK: return "invalid gzip data (bad back-reference)"
        case ISAL_INVALID_WRAPPER: return "not gzip data (bad header)"
        case ISAL_UNSUPPORTED_METHOD: return "unsupported gzip compression method"
        case ISAL_INCORRECT_CHECKSUM: return "gzip checksum mismatch (corrupt data)"
        default: return "gzip decompression failed (\(status))"
        }
    }
}
