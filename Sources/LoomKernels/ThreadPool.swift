import Foundation
import Synchronization

/// A persistent pool of worker threads for data-parallel kernels.
///
/// A forward pass dispatches a few hundred small jobs per token, so dispatch must cost
/// microseconds: workers spin briefly on an epoch counter after each job (the next one
/// usually follows within microseconds) and only then sleep on a condition variable.
/// The calling thread always takes part as worker 0, so a pool of one thread runs
/// everything inline with no synchronisation at all.
///
/// ```swift
/// let pool = ThreadPool(threadCount: 2)
/// pool.parallelFor(count: rows, chunk: 16) { range in /* rows in range */ }
/// ```
public final class ThreadPool: @unchecked Sendable {
    /// Threads taking part in each job, including the caller.
    public let threadCount: Int

    private let epoch = Atomic<Int>(0)
    private let remaining = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let nextChunk = Atomic<Int>(0)
    private let shuttingDown = Atomic<Bool>(false)
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wakeUp = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// The job of the current epoch; only read by workers between the epoch bump and their
    /// decrement of `remaining`, during which the dispatching call is blocked.
    private var job: ((Int) -> Void)?
    private var threads: [Thread] = []
    private let scratchSlots: UnsafeMutablePointer<(pointer: UnsafeMutablePointer<Float>?, capacity: Int)>
    /// The integer activation buffer single-token matrix products quantise into (used by the
    /// dispatching thread before each dispatch, read by all participants during it).
    public let quantizedActivations = QuantizedActivations(capacity: 4096)
    /// How many polls of the epoch a worker makes before it goes to sleep (≈ 50–100 µs).
    private let spinLimit = 200_000

    /// The number of processors the OS lets this process use.
    public static var availableProcessors: Int { ProcessInfo.processInfo.activeProcessorCount }

    /// A pool with `threadCount` participants (the caller plus `threadCount - 1` threads).
    public init(threadCount: Int = ThreadPool.availableProcessors) {
        self.threadCount = max(1, threadCount)
        scratchSlots = .allocate(capacity: self.threadCount)
        scratchSlots.initialize(repeating: (nil, 0), count: self.threadCount)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wakeUp, nil)
        for index in 1..<self.threadCount {
            let thread = Thread { [unowned(unsafe) self] in self.workerLoop(index: index) }
            thread.stackSize = 1 << 20
            thread.name = "loom-worker-\(index)"
            threads.append(thread)
            thread.start()
        }
    }

    deinit {
        remaining.store(threadCount - 1, ordering: .sequentiallyConsistent)
        shuttingDown.store(true, ordering: .sequentiallyConsistent)
        epoch.add(1, ordering: .sequentiallyConsistent)
        pthread_mutex_lock(mutex)
        pthread_cond_broadcast(wakeUp)
        pthread_mutex_unlock(mutex)
        // Each worker decrements `remaining` as it leaves its loop; wait for all before freeing.
        while remaining.load(ordering: .acquiring) > 0 { sched_yield() }
        pthread_cond_destroy(wakeUp)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        for i in 0..<threadCount { scratchSlots[i].pointer?.deallocate() }
        scratchSlots.deallocate()
        wakeUp.deallocate()
    }

    /// Runs `body(worker)` once on each of the `threadCount` participants and returns when
    /// all have finished. `worker` is in `0..<threadCount`; 0 is the calling thread.
    public func run(_ body: (Int) -> Void) {
        if threadCount == 1 { body(0); return }
        withoutActuallyEscaping(body) { body in
            job = body
            remaining.store(threadCount - 1, ordering: .sequentiallyConsistent)
            epoch.add(1, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(mutex)
                pthread_cond_broadcast(wakeUp)
                pthread_mutex_unlock(mutex)
            }
            body(0)
            var polls = 0
            while remaining.load(ordering: .acquiring) > 0 {
                polls += 1
                if polls > 10_000 { sched_yield() }
            }
            job = nil
        }
    }

    /// Splits `0..<count` into chunks of `chunk` items that the participants claim
    /// dynamically (so a thread slowed by another process does not hold up the rest).
    /// `body` receives each chunk and the index of the participant running it.
    public func parallelFor(count: Int, chunk: Int, _ body: (Range<Int>, Int) -> Void) {
        guard count > 0 else { return }
        let chunk = max(1, chunk)
        if threadCount == 1 || count <= chunk { body(0..<count, 0); return }
        nextChunk.store(0, ordering: .relaxed)
        run { worker in
            while true {
                let start = nextChunk.add(chunk, ordering: .relaxed).oldValue
                if start >= count { break }
                body(start..<min(start + chunk, count), worker)
            }
        }
    }

    /// Per-participant float scratch of at least `count` elements, kept between jobs (it is
    /// only reallocated when a larger size is first asked for). Only participant `worker`
    /// may use it, and only until its next call.
    public func scratch(worker: Int, count: Int) -> UnsafeMutablePointer<Float> {
        let slot = scratchSlots + worker
        if slot.pointee.capacity < count {
            slot.pointee.pointer?.deallocate()
            slot.pointee = (UnsafeMutablePointer<Float>.allocate(capacity: count), count)
        }
        return slot.pointee.pointer!
    }

    /// A chunk size that gives each participant several chunks of at least `minimum` items.
    public func chunkSize(for count: Int, minimum: Int = 1) -> Int {
        max(minimum, count / (threadCount * 4))
    }

    private func workerLoop(index: Int) {
        var seen = 0
        while true {
            var polls = 0
            while epoch.load(ordering: .acquiring) == seen {
                polls += 1
                if polls < spinLimit { continue }
                pthread_mutex_lock(mutex)
                sleepers.add(1, ordering: .sequentiallyConsistent)
                while epoch.load(ordering: .sequentiallyConsistent) == seen {
                    pthread_cond_wait(wakeUp, mutex)
                }
                sleepers.subtract(1, ordering: .sequentiallyConsistent)
                pthread_mutex_unlock(mutex)
            }
            seen = epoch.load(ordering: .acquiring)
            if shuttingDown.load(ordering: .acquiring) {
                remaining.subtract(1, ordering: .releasing)
                return
            }
            job?(index)
            remaining.subtract(1, ordering: .releasing)
        }
    }
}
