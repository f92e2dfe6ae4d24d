/// The path criteria of a plan's rules (globs and regular expressions, in the case mode each rule asks for, or both
/// modes when a rule leaves it to each path's style), compiled into flat buffers of plain values. The evaluator
/// matches a path against them without a reference count changing hands, and a path reaches the regex engine only
/// when it begins with the literal characters every match of the expression begins with.
struct PathCriteria: Sendable {
    /// One rule's share of the buffers.
    struct Entry {
        /// nil: by path style (Windows paths fold case, POSIX paths do not).
        var caseSensitive: Bool?
        /// Indices into `globs`.
        var sensitiveGlobs: Range<Int>
        var foldingGlobs: Range<Int>
        /// Index into `regexes`, or -1.
        var regex: Int
        /// Indices into `prefixBytes`: the regex's literal prefix as written and lower-cased.
        var regexPrefix: Range<Int>
        var foldedRegexPrefix: Range<Int>

        static let none = Entry(caseSensitive: nil, sensitiveGlobs: 0..<0, foldingGlobs: 0..<0, regex: -1,
                                regexPrefix: 0..<0, foldedRegexPrefix: 0..<0)
    }

    /// A rule's expression compiled for each case mode it may need.
    struct Regexes: Sendable {
        var sensitive: PathRegex?
        var folding: PathRegex?
    }

    /// One per rule added, in order.
    private(set) var entries: [Entry] = []
    private var tokens: [GlobPattern.Token] = []
    private var sets: [UInt64] = []
    /// Each glob's range of `tokens` and the number of literal tokens it begins with.
    private var globs: [(tokens: Range<Int>, literalCount: Int)] = []
    private var prefixBytes: [UInt8] = []
    private var regexes: [Regexes] = []

    /// Paths on which a rule's regular expression gave up at PCRE2's limits (each counted as no match).
    var regexLimitsExceeded: Int {
        regexes.reduce(0) { $0 + ($1.sensitive?.limitsExceeded ?? 0) + ($1.folding?.limitsExceeded ?? 0) }
    }

    /// Whether rule `index` has a path criterion at all.
    func constrains(_ index: Int) -> Bool {
        let entry = entries[index]
        return !entry.sensitiveGlobs.isEmpty || !entry.foldingGlobs.isEmpty || entry.regex >= 0
    }

    mutating func add(_ rule: TieringRule) throws(RuleProblem) {
        let pattern = rule.pathRegex.flatMap { $0.isEmpty ? nil : $0 }
        guard !rule.pathGlobs.isEmpty || pattern != nil else {
            entries.append(.none)
            return
        }
        let needsSensitive = rule.caseSensitive != false
        let needsFolding = rule.caseSensitive != true
        var entry = Entry.none
        entry.caseSensitive = rule.caseSensitive
        if needsSensitive { entry.sensitiveGlobs = add(rule.pathGlobs.map { GlobPattern($0, caseSensitive: true) }) }
        if needsFolding { entry.foldingGlobs = add(rule.pathGlobs.map { GlobPattern($0, caseSensitive: false) }) }
        if let pattern {
            do {
                regexes.append(Regexes(sensitive: needsSensitive ? try PathRegex(pattern) : nil,
                                       folding: needsFolding ? try PathRegex(pattern, caseInsensitive: true) : nil))
            } catch {
                throw RuleProblem(field: "path_regex", message: "does not compile: \(error)")
            }
            entry.regex = regexes.count - 1
            let prefix = Self.literalPrefix(of: pattern)
            entry.regexPrefix = prefixBytes.count..<(prefixBytes.count + prefix.count)
            prefixBytes += prefix
            // In UTF mode PCRE2 folds k to the Kelvin sign and s to the long s, which no byte comparison can see.
            let folded = prefix.map(GlobPattern.lowercase).prefix { $0 != UInt8(ascii: "k") && $0 != UInt8(ascii: "s") }
            entry.foldedRegexPrefix = prefixBytes.count..<(prefixBytes.count + folded.count)
            prefixBytes += folded
        }
        entries.append(entry)
    }

    private mutating func add(_ patterns: [GlobPattern]) -> Range<Int> {
        let first = globs.count
        for pattern in patterns {
            let setBase = sets.count
            let start = tokens.count
            tokens += pattern.tokens.map { token in
                if case .set(let offset) = token { return .set(setBase + offset) }
                return token
            }
            sets += pattern.sets
            globs.append((start..<tokens.count, pattern.literalCount))
        }
        return first..<globs.count
    }

    /// Whether the path of `bytes` (`path` is the same path as a string) satisfies rule `index`'s path criterion.
    /// `windowsPath` is ``isWindowsPath(_:)`` of the bytes, worked out once per file rather than once per rule.
    func matches(_ index: Int, bytes: UnsafeBufferPointer<UInt8>, windowsPath: Bool) -> Bool {
        let entry = entries[index]
        let folding = entry.caseSensitive.map { !$0 } ?? windowsPath
        let matchedGlob = tokens.withUnsafeBufferPointer { tokens in
            sets.withUnsafeBufferPointer { sets in
                globs.withUnsafeBufferPointer { globs in
                    for glob in folding ? entry.foldingGlobs : entry.sensitiveGlobs
                    where GlobPattern.matches(tokens: UnsafeBufferPointer(rebasing: tokens[globs[glob].tokens]),
                                              literalCount: globs[glob].literalCount, sets: sets,
                                              path: bytes, foldingCase: folding) {
                        return true
                    }
                    return false
                }
            }
        }
        if matchedGlob { return true }
        guard entry.regex >= 0 else { return false }
        let prefixMatches = prefixBytes.withUnsafeBufferPointer { prefixBytes in
            let prefix = UnsafeBufferPointer(rebasing: prefixBytes[folding ? entry.foldedRegexPrefix : entry.regexPrefix])
            guard bytes.count >= prefix.count else { return false }
            for offset in prefix.indices.reversed()
            where (folding ? GlobPattern.lowercase(bytes[offset]) : bytes[offset]) != prefix[offset] {
                return false
            }
            return true
        }
        guard prefixMatches, let regex = folding ? regexes[entry.regex].folding : regexes[entry.regex].sensitive else {
            return false
        }
        return regex.wholeMatch(bytes)
    }

    /// The literal ASCII characters a whole-match regex begins with, up to its first operator; a literal that a
    /// quantifier follows is optional, so it is left out. Conservative: anything unclear ends the prefix, and a
    /// pattern that sets options inline has none.
    static func literalPrefix(of pattern: String) -> [UInt8] {
        let operators = Set("\\.[](){}*+?|^$#".utf8)
        var prefix: [UInt8] = []
        for byte in pattern.utf8 {
            if operators.contains(byte) {
                if byte == UInt8(ascii: "*") || byte == UInt8(ascii: "?") || byte == UInt8(ascii: "{") { prefix.removeLast(min(1, prefix.count)) }
                break
            }
            guard byte < 0x80, byte > 0x20 else { break }
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
