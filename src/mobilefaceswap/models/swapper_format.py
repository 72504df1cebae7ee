"""The format tags of a swapper file: written by ``swapper.py``, recognised by ``pretrained.py``
wherever a swapper file is given as a student's or teacher's weights."""

FORMAT = "mobilefaceswap-swapper/2"
# Format 1 did not record the student's architecture: its files hold the default student.
READABLE_FORMATS = ("mobilefaceswap-swapper/1", FORMAT)
