"""The command line (`voiceguide`): parses, runs, prints; the library below it only raises."""
