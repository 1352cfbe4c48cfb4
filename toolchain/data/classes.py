"""RadioML 2018.01A label conventions shared by the loader and the generator."""

# The official order. The dataset's classes.txt lists a different order that does not
# match the one-hot labels; this one does (see docs/data.md).
CLASSES: tuple[str, ...] = (
    "OOK", "4ASK", "8ASK", "BPSK", "QPSK", "8PSK", "16PSK", "32PSK",
    "16APSK", "32APSK", "64APSK", "128APSK", "16QAM", "32QAM", "64QAM", "128QAM", "256QAM",
    "AM-SSB-WC", "AM-SSB-SC", "AM-DSB-WC", "AM-DSB-SC", "FM", "GMSK", "OQPSK",
)
NUM_CLASSES = len(CLASSES)

# -20 dB to +30 dB in 2 dB steps, as in the real file.
SNRS: tuple[int, ...] = tuple(range(-20, 31, 2))

FRAME_LENGTH = 1024
