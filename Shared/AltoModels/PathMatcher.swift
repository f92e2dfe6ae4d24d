/// A rule's path criterion, compiled once: its globs and its regular expression, in the case mode the rule asks for
/// (or both modes, when the rule leaves it to each path to say whether it is a Windows path).
struct PathMatcher: Sendable {
    /// `Regex` is not `Sendable`; it is only read after compilation, so sharing it is safe.
    struct SendableRegex: @unchecked Sendable {
        let regex: Regex<AnyRegexOutput>
    }

    private let sensitiveGlobs: [GlobPattern]
    private let foldingGlobs: [GlobPattern]
    private let sensitiveRegex: SendableRegex?
    private let foldingRegex: SendableRegex?
    /// Bytes every path the regular expression matches starts with (lower-cased for the folding one): a path
    /// without them is turned away before the regex engine, which costs microseconds a path, ever runs.
    private let regexPrefix: [UInt8]
    private let foldedRegexPrefix: [UInt8]
    /// nil: by path style.
    private let caseSensitive: Bool?

    /// nil when the rule has no path criterion.
    init?(rule: TieringRule) throws(RuleProblem) {
        let regex = rule.pathRegex.flatMap { $0.isEmpty ? nil : $0 }
        guard !rule.pathGlobs.isEmpty || regex != nil else { return nil }
        caseSensitive = rule.caseSensitive
        let needsSensitive = rule.caseSensitive != false
        let needsFolding = rule.caseSensitive != true
        sensitiveGlobs = needsSensitive ? rule.pathGlobs.map { GlobPattern($0, caseSensitive: true) } : []
        foldingGlobs = needsFolding ? rule.pathGlobs.map { GlobPattern($0, caseSensitive: false) } : []
        if let regex {
            do {
                let compiled = try Regex(regex)
                sensitiveRegex = needsSensitive ? SendableRegex(regex: compiled) : nil
                foldingRegex = needsFolding ? SendableRegex(regex: compiled.ignoresCase()) : nil
                regexPrefix = Self.literalPrefix(of: regex)
                foldedRegexPrefix = regexPrefix.map(GlobPattern.lowercase)
            } catch {
                throw RuleProblem(field: "path_regex", message: "does not compile: \(error)")
            }
        } else {
            sensitiveRegex = nil
            foldingRegex = nil
            regexPrefix = []
            foldedRegexPrefix = []
        }
    }

    func matches(_ path: String, bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        let folding = caseSensitive.map { !$0 } ?? Self.isWindowsPath(bytes)
        for glob in folding ? foldingGlobs : sensitiveGlobs where glob.matches(bytes) { return true }
        guard let regex = folding ? foldingRegex : sensitiveRegex else { return false }
        let prefix = folding ? foldedRegexPrefix : regexPrefix
        guard bytes.count >= prefix.count else { return false }
        for index in prefix.indices where (folding ? GlobPattern.lowercase(bytes[index]) : bytes[index]) != prefix[index] {
            return false
        }
        return (try? regex.regex.wholeMatch(in: path)) != nil
    }

    /// The literal ASCII characters a whole-match regex begins with, up to its first operator; a literal that a
    /// quantifier follows is optional, so it is left out. Conservative: anything unclear ends the prefix.
    static func literalPrefix(of pattern: String) -> [UInt8] {
        let operators = Set("\\.[](){}*+?|^$".utf8)
        var prefix: [UInt8] = []
        for byte in pattern.utf8 {
            if operators.contains(byte) {
                if byte == UInt8(ascii: "*") || byte == UInt8(ascii: "?") || byte == UInt8(ascii: "{") { prefix.removeLast(min(1, prefix.count)) }
                break
            }
            guard byte < 0x80 else { break }
            prefix.append(byte)
        }
        return prefix
    }

    /// `C:\…`, `C:/…` or a UNC path `\\server\share\…`.
    static func isWindowsPath(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.count >= 2 else { return false }
        if bytes[0] == UInt8(ascii: "\\") && bytes[1] == UInt8(ascii: "\\") { return true }
        let letter = bytes[0] | 0x20
        return bytes.count >= 3 && letter >= UInt8(ascii: "a") && letter <= UInt8(ascii: "z")
            && bytes[1] == UInt8(ascii: ":") && (bytes[2] == UInt8(ascii: "\\") || bytes[2] == UInt8(ascii: "/"))
    }
}
