"""Key providers: wrap each recording's data key for its recipients and unwrap it for playback.

`base` holds the contract (`WrappedKey`, the wrapper/unwrapper protocols, errors, and the
helpers that wrap for several recipients and unwrap with whichever key matches); `local`,
`public` and `kms` are the providers. Wrapped keys live in the database row, never in the
object, so deleting them erases every copy of the recording.
"""
