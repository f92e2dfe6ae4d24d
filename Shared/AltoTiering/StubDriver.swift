import AltoModels
import Glibc

/// How a platform marks a tiered file and brings it back. `LinuxStubDriver` is the one built here: the record in an
/// extended attribute, the data released by a hole punch, and on-access recall by the fanotify guard
/// (`alto-agent guard`), which hands opens of stubs to the agent's `RecallCoordinator`. A Windows driver (a file
/// system filter such as EaseFilter: a reparse point and the offline attribute, recall in the filter's callback)
/// would conform to this protocol and feed its callbacks to the same coordinator; tiering and recall above it would
/// not change.
public protocol StubDriver: Sendable {
    /// The stub record of an open file, nil for an ordinary one; a record its owner could have forged, or one
    /// that makes no sense, is an `.untrustedRecord` error.
    func record(descriptor: Int32, path: String) throws(TieringError) -> StubRecord?
    /// Turns a file whose copy is verified into a stub; `descriptor` is open for writing, and no other program has
    /// the file open (the caller holds a write lease). Must not throw once the data is released.
    func makeStub(descriptor: Int32, path: String, record: StubRecord, times: (timespec, timespec)) throws(TieringError)
    /// Releases the data of a stub whose recall failed half-way, so it stays a whole stub; only while its record
    /// is still there, since another recall may have finished it and a program may be writing it.
    func releaseAgain(descriptor: Int32, record: StubRecord)
    /// Makes a file whose content was restored and verified an ordinary file again, with its times as they were.
    func clearStub(descriptor: Int32, path: String, times: (timespec, timespec)) throws(TieringError)
}
