import Glibc

/// What the stub guard does with one open or read of a file on a managed root, decided from what the kernel told it
/// and nothing else, so every case is tested without fanotify.
struct GuardPolicy: Sendable {
    /// One event, as the guard sees it.
    struct Access: Sendable {
        enum Kind: Sendable, Equatable {
            /// The file is being opened (`FAN_OPEN_PERM`).
            case open
            /// A read is about to touch the file's content (`FAN_PRE_ACCESS`), over `range` when the kernel says.
            case read(range: Range<UInt64>?)
        }

        var kind: Kind
        /// The agent or the guard itself, which must never wait for its own recall.
        var isFromAlto: Bool
        /// Bytes kept on disk at the start of a stub; nil when the file is no stub.
        var residentBytes: Int64?
        /// The process's name, as `/proc/<pid>/comm` gives it.
        var program: String
    }

    enum Verdict: Sendable, Equatable {
        /// Let it go on; `ignoreFurther` when the file is no stub, so the kernel stops asking about it.
        case allow(ignoreFurther: Bool)
        /// Let it go on without a recall: it reads only the stub's resident preview.
        case preview
        /// Fail it with `errno` and recall nothing: a scanning program must not recall a whole volume.
        case refuse(errno: Int32)
        /// Hold it until the agent has recalled the file.
        case recall
    }

    /// Programs whose reads of a stub fail instead of recalling it: backups, virus scanners, indexers.
    let scanners: Set<String>
    /// Programs that only sniff headers or draw thumbnails: their opens of a stub read its resident preview.
    let previewPrograms: Set<String>

    /// - Parameter writesTheFile: whether the process also holds the file open for writing, asked only for a read
    ///   inside the preview (it reads `/proc`): a writer must get the whole file back before it changes a part.
    func decide(_ access: Access, writesTheFile: () -> Bool) -> Verdict {
        if access.isFromAlto { return .allow(ignoreFurther: false) }
        guard let resident = access.residentBytes else { return .allow(ignoreFurther: true) }
        if scanners.contains(access.program) { return .refuse(errno: EPERM) }
        switch access.kind {
        case .open:
            // A program that copies sparse files asks where the data is (SEEK_DATA) and reads only that, so a stub
            // is recalled when it is opened; only header sniffers read from the preview, as they open it.
            if resident > 0 && previewPrograms.contains(access.program) { return .preview }
        case .read(let range?):
            if range.upperBound <= UInt64(max(0, resident)) && !writesTheFile() { return .preview }
        case .read(nil):
            break
        }
        return .recall
    }
}
