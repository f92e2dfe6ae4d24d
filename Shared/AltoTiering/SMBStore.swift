import AltoModels
import Foundation
import Glibc

/// An SMB share reached directly through libsmbclient (SMB 2 and 3), for file servers whose second tier is a NAS
/// the host does not mount. A copy is written under a temporary name with write-through (O_SYNC, which asks the
/// server to write through to its disk), closed, renamed into place, and read back over the connection.
public struct SMBStore: TierStore {
    /// `smb://server[:port]/share[/folder]`, the root below which the tenant trees live.
    public let root: String
    let share: String
    let user: String
    let password: String
    let domain: String
    let port: UInt16?

    /// From a target of `kind`.
    public init(target: StorageTargetReference) throws(TieringError) {
        let (server, share, folder) = try Self.parts(of: target.location)
        let settings = target.settings ?? [:]
        guard let user = settings["username"], let password = target.secrets?["password"] else {
            throw TieringError(.rejected, "the SMB target needs a username and a password")
        }
        self.init(server: server, share: share, folder: folder, user: user, password: password,
                  domain: settings["domain"] ?? "WORKGROUP", port: settings["port"].flatMap { UInt16($0) })
    }

    /// An SMB share the agent reaches itself through libsmbclient, with no mount on its host.
    public static let kind = StorageKind(
        name: .smb, locationForm: "//server/share[/folder]",
        settings: [StorageKind.Setting("username", "the account on the server"),
                   StorageKind.Setting("domain", "the account's domain or workgroup (WORKGROUP)"),
                   StorageKind.Setting("port", "the server's port (445)"),
                   StorageKind.Setting("password", "the account's password", isSecret: true)],
        requiredSettings: ["username"], requiredCredentials: [["password"]],
        locationProblem: StorageKind.problem { location throws(TieringError) in _ = try parts(of: location) },
        make: { target throws(TieringError) in try SMBStore(target: target) })

    /// Server, share and folder of `//server/share[/folder]` (or `\\server\share\folder`).
    static func parts(of location: String) throws(TieringError) -> (server: String, share: String, folder: String) {
        let normalized = location.replacingOccurrences(of: "\\", with: "/")
        let parts = normalized.split(separator: "/").map(String.init)
        guard normalized.hasPrefix("//"), parts.count >= 2 else {
            throw TieringError(.rejected, "an SMB target's location is //server/share[/folder]")
        }
        return (parts[0], parts[1], parts.dropFirst(2).joined(separator: "/"))
    }

    public init(server: String, share: String, folder: String = "", user: String, password: String, domain: String = "WORKGROUP",
                port: UInt16? = nil) {
        self.share = "smb://\(server)\(port.map { ":\($0)" } ?? "")/\(share)"
        root = self.share + (folder.isEmpty ? "" : "/" + folder)
        self.user = user
        self.password = password
        self.domain = domain
        self.port = port
    }

    public func store(_ source: TierSource, as object: TierObject) async throws(TieringError) -> StoredCopy {
        let destination = try await Blocking.run { [self] () throws(TieringError) -> String in
            try SMBConnection.exclusively { () throws(TieringError) -> String in
                do throws(TieringError) {
                    return try copy(source, as: object)
                } catch {
                    throw classified(error)
                }
            }
        }
        return try await readBack(destination, for: source)
    }

    /// libsmbclient reports a server that went away with many errnos; an I/O error while the server no longer
    /// answers is the tier being unavailable, which puts the job back instead of failing the file.
    private func classified(_ error: TieringError) -> TieringError {
        guard error.code == .io, let connection = try? connect(), !connection.answers(share) else { return error }
        return TieringError(.storageUnavailable, error.message, systemError: error.systemError)
    }

    /// Writes the copy and its metadata and renames it into place; returns where it is.
    private func copy(_ source: TierSource, as object: TierObject) throws(TieringError) -> String {
        let connection = try connect()
        let destination = root + "/" + object.key
        let partial = destination + ".partial"
        try connection.makeFolders(destination, below: share)
        do throws(TieringError) {
            let copy = try connection.open(partial, flags: O_WRONLY | O_CREAT | O_TRUNC | O_SYNC)
            while let chunk = try source.next() { try copy.write(chunk) }
            try copy.close()
            try connection.rename(partial, to: destination)
            return destination
        } catch {
            connection.unlink(partial)
            throw error
        }
    }

    public func retrieve(_ location: String, into sink: any TierSink) async throws(TieringError) {
        try confine(location)
        try await Blocking.run { [self] () throws(TieringError) in
            try SMBConnection.exclusively { () throws(TieringError) in try Self.read(location, over: try connect(), into: sink) }
        }
    }

    public func remove(_ location: String) async {
        guard (try? confine(location)) != nil else { return }
        _ = try? await Blocking.run { [self] () throws(TieringError) in
            try SMBConnection.exclusively { () throws(TieringError) in
                let connection = try connect()
                connection.unlink(location)
                connection.unlink(CopyDescription.location(describing: location))
            }
        }
    }

    public func storeDescription(_ description: [UInt8], of location: String) async throws(TieringError) {
        try confine(location)
        try await Blocking.run { [self] () throws(TieringError) in
            try SMBConnection.exclusively { () throws(TieringError) in
                let connection = try connect()
                let destination = CopyDescription.location(describing: location)
                let partial = destination + ".partial"
                do throws(TieringError) {
                    let file = try connection.open(partial, flags: O_WRONLY | O_CREAT | O_TRUNC | O_SYNC)
                    let failure = description.withUnsafeBytes { bytes -> TieringError? in
                        do throws(TieringError) { try file.write(bytes) } catch { return error }
                        return nil
                    }
                    if let failure { throw failure }
                    try file.close()
                    try connection.rename(partial, to: destination)
                } catch {
                    connection.unlink(partial)
                    throw classified(error)
                }
            }
        }
    }

    /// Reads one folder at a time, each while holding the process's turn at libsmbclient, so recalls get theirs
    /// between folders.
    public func list(prefix: String, page: ([TierEntry]) async throws(TieringError) -> Void) async throws(TieringError) {
        var folders = [prefix.split(separator: "/").joined(separator: "/")]
        while let folder = folders.popLast() {
            let url = folder.isEmpty ? root : root + "/" + folder
            let (files, subfolders) = try await Blocking.run { [self] () throws(TieringError) -> ([SMBConnection.Entry], [String]) in
                try SMBConnection.exclusively { () throws(TieringError) in
                    do throws(TieringError) {
                        return try connect().entries(of: url)
                    } catch where error.code == .notFound {
                        return ([], [])
                    }
                }
            }
            folders += subfolders.map { folder.isEmpty ? $0 : folder + "/" + $0 }
            let base = folder.isEmpty ? "" : folder + "/"
            let entries = files.map { TierEntry(location: url + "/" + $0.name, key: base + $0.name, size: $0.size, modifiedAt: $0.modifiedAt) }
            try await Self.hand(entries, to: page)
        }
    }

    /// A copy is read only from below the target's folder: the location must start there and name no "..".
    func confine(_ location: String) throws(TieringError) {
        let components = location.dropFirst(root.count).split(separator: "/")
        guard location.hasPrefix(root + "/"), !components.contains(".."), !components.contains(".") else {
            throw TieringError(.untrustedRecord, "the copy \(location) is not below the target's folder \(root)")
        }
    }

    private func connect() throws(TieringError) -> SMBConnection {
        try SMBConnection(user: user, password: password, domain: domain, port: port)
    }

    private static func read(_ url: String, over connection: SMBConnection, into sink: any TierSink) throws(TieringError) {
        let file = try connection.open(url, flags: O_RDONLY)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: TierSource.chunkBytes, alignment: 16)
        defer { buffer.deallocate() }
        while true {
            let count = try file.read(into: buffer)
            if count == 0 { break }
            try sink.receive(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
        }
        try file.close()
    }
}
