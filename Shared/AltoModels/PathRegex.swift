import CPCRE2

/// A rule's regular expression in PCRE2's Perl-compatible syntax, matched against a whole path. PCRE2 compiles it to
/// machine code where the CPU allows, so a plan can afford to run it on every file of a large inventory, which
/// Swift's `Regex`, at microseconds a path, cannot.
public final class PathRegex: @unchecked Sendable {
    // Unchecked: PCRE2 documents compiled code, JIT code included, as read-only and safe to share between threads;
    // every match brings its own match data.
    private let code: OpaquePointer
    public let pattern: String
    public let caseInsensitive: Bool

    /// Why a pattern does not compile, in PCRE2's words, with the offset in the pattern where it gave up.
    public struct CompileError: Error, Sendable, CustomStringConvertible {
        public var message: String
        public var offset: Int

        public var description: String { "\(message) at offset \(offset)" }
    }

    public init(_ pattern: String, caseInsensitive: Bool = false) throws(CompileError) {
        var options = UInt32(PCRE2_UTF) | UInt32(PCRE2_ANCHORED) | UInt32(PCRE2_ENDANCHORED)
        if caseInsensitive { options |= UInt32(PCRE2_CASELESS) }
        var errorCode: Int32 = 0
        var errorOffset = 0
        var text = pattern
        let compiled = text.withUTF8 { bytes in
            pcre2_compile_8(bytes.baseAddress, bytes.count, options, &errorCode, &errorOffset, nil)
        }
        guard let compiled else {
            throw CompileError(message: Self.message(for: errorCode), offset: errorOffset)
        }
        // Without JIT support PCRE2 interprets; slower, still correct.
        _ = pcre2_jit_compile_8(compiled, UInt32(PCRE2_JIT_COMPLETE))
        self.code = compiled
        self.pattern = pattern
        self.caseInsensitive = caseInsensitive
    }

    deinit {
        pcre2_code_free_8(code)
    }

    /// Whether the pattern matches all of `path`, which must be valid UTF-8 (every Swift string is).
    public func wholeMatch(_ path: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let data = pcre2_match_data_create_8(1, nil) else { return false }
        defer { pcre2_match_data_free_8(data) }
        let base = path.baseAddress ?? UnsafePointer(bitPattern: 1)
        return pcre2_match_8(code, base, path.count, 0, UInt32(PCRE2_NO_UTF_CHECK), data, nil) >= 0
    }

    private static func message(for errorCode: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let length = pcre2_get_error_message_8(errorCode, &buffer, buffer.count)
        return length > 0 ? String(decoding: buffer.prefix(Int(length)), as: UTF8.self) : "error \(errorCode)"
    }
}
