import CPCRE2
import Synchronization

/// A rule's regular expression in PCRE2's Perl-compatible syntax, matched against a whole path. PCRE2 compiles it to
/// machine code where the CPU allows, so a plan can afford to run it on every file of a large inventory, which
/// Swift's `Regex`, at microseconds a path, cannot.
public final class PathRegex: @unchecked Sendable {
    // Unchecked: PCRE2 documents compiled code, JIT code included, as read-only and safe to share between threads;
    // every match brings its own match data.
    private let code: OpaquePointer
    /// The limits every match runs under, shared read-only by all threads like the code.
    private let limits: OpaquePointer
    public let pattern: String
    public let caseInsensitive: Bool
    private let exceeded = Atomic<Int>(0)

    /// How far one match of one path may go (the JIT heeds the match limit and its own stack; the interpreter also
    /// the depth and heap limits): a rule's pattern is a tenant's input, and a pattern that backtracks
    /// exponentially (`(\w+\s?)*` on a long name with a stray character) must cost a bounded time per path, not stall the planner for every tenant.
    public static let matchLimit: UInt32 = 1_000_000
    public static let depthLimit: UInt32 = 10_000
    public static let heapLimitKiB: UInt32 = 20 << 10

    /// How many paths this pattern gave up on at a limit; each counts as not matching, so nothing is tiered for it.
    public var limitsExceeded: Int { exceeded.load(ordering: .relaxed) }

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
        guard let limits = pcre2_match_context_create_8(nil) else {
            pcre2_code_free_8(compiled)
            throw CompileError(message: "no memory for a match context", offset: 0)
        }
        pcre2_set_match_limit_8(limits, Self.matchLimit)
        pcre2_set_depth_limit_8(limits, Self.depthLimit)
        pcre2_set_heap_limit_8(limits, Self.heapLimitKiB)
        self.limits = limits
        self.code = compiled
        self.pattern = pattern
        self.caseInsensitive = caseInsensitive
    }

    deinit {
        pcre2_match_context_free_8(limits)
        pcre2_code_free_8(code)
    }

    /// Whether the pattern matches all of `path`, which must be valid UTF-8 (every Swift string is). A match that
    /// reaches a limit is no match, and is counted in `limitsExceeded`.
    public func wholeMatch(_ path: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let data = pcre2_match_data_create_8(1, nil) else { return false }
        defer { pcre2_match_data_free_8(data) }
        let base = path.baseAddress ?? UnsafePointer(bitPattern: 1)
        let result = pcre2_match_8(code, base, path.count, 0, UInt32(PCRE2_NO_UTF_CHECK), data, limits)
        // Any failure but "no match" is a limit reached: the match, depth or heap limit, or under JIT its stack.
        if result < 0 && result != PCRE2_ERROR_NOMATCH { exceeded.add(1, ordering: .relaxed) }
        return result >= 0
    }

    private static func message(for errorCode: Int32) -> String {
        var buffer = [UInt8](repeating: 0, count: 256)
        let length = pcre2_get_error_message_8(errorCode, &buffer, buffer.count)
        return length > 0 ? String(decoding: buffer.prefix(Int(length)), as: UTF8.self) : "error \(errorCode)"
    }
}
