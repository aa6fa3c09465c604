"""Speaking: the timeline of cues compiled from a routine, speech synthesis and its cache, rendering
to PCM, and the player that writes it to an output in blocks it can stop between."""
