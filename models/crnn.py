"""The classic CRNN of Shi, Bai and Yao (2015): VGG-style CNN, two BiLSTMs, CTC head.

    [B, 1, 32, W] -> [T, B, num_classes] with T = W / 4 + 1 (T = 26 for W = 100).

The model's configuration lives here alone: CRNN's constructor arguments are a checkpoint's
`model_args` (checked by `check_model_args`, which reads the signature), and SETTINGS lists the
ones a run chooses (main.py makes a flag of each). A new argument is an edit of this file only.

Layer plan as in the Ascend ModelZoo recipe: seven 3x3 convs (the last 2x2,
unpadded), BatchNorm after convs 3, 5 and 7, pools (2,2), (2,2) then twice
(2,2)/stride (2,1)/pad (0,1), which halve the height but keep the width.
"""
import inspect

from torch import nn

# (out channels as multiples of cnn_width, kernel, padding, batch norm) per conv.
_CONVS = [(1, 3, 1, False), (2, 3, 1, False), (4, 3, 1, True), (4, 3, 1, False),
          (8, 3, 1, True), (8, 3, 1, False), (8, 2, 0, True)]
# Pooling after conv index i (0-based).
_POOLS = {0: ((2, 2), (2, 2), (0, 0)), 1: ((2, 2), (2, 2), (0, 0)),
          3: ((2, 2), (2, 1), (0, 1)), 5: ((2, 2), (2, 1), (0, 1))}


class BidirectionalLSTM(nn.Module):
    """[T, B, in_size] -> [T, B, out_size]."""

    def __init__(self, in_size, hidden_size, out_size):
        super().__init__()
        self.rnn = nn.LSTM(in_size, hidden_size, bidirectional=True)
        self.embedding = nn.Linear(hidden_size * 2, out_size)

    def forward(self, x):
        recurrent, _ = self.rnn(x)
        return self.embedding(recurrent)


class CRNN(nn.Module):
    """CRNN(img_h=32, num_channels=1, num_classes=37, hidden_size=256).

    `cnn_width` scales every conv (64 is the paper's network); tests use a
    small value so that a model can be trained in seconds on a CPU.
    """

    def __init__(self, img_h=32, num_channels=1, num_classes=37, hidden_size=256, cnn_width=64):
        super().__init__()
        self.check_args(img_h=img_h)
        # Module names follow the reference implementation (cnn.conv0, cnn.batchnorm2, rnn.0.rnn...),
        # so its plain state_dicts load as they are.
        self.cnn = nn.Sequential()
        in_ch, pools = num_channels, 0
        for i, (mult, k, p, bn) in enumerate(_CONVS):
            out_ch = cnn_width * mult
            self.cnn.add_module(f"conv{i}", nn.Conv2d(in_ch, out_ch, k, 1, p))
            if bn:
                self.cnn.add_module(f"batchnorm{i}", nn.BatchNorm2d(out_ch))
            self.cnn.add_module(f"relu{i}", nn.ReLU(inplace=True))
            if i in _POOLS:
                self.cnn.add_module(f"pooling{pools}", nn.MaxPool2d(*_POOLS[i]))
                pools += 1
            in_ch = out_ch
        self.rnn = nn.Sequential(BidirectionalLSTM(in_ch, hidden_size, hidden_size),
                                 BidirectionalLSTM(hidden_size, hidden_size, num_classes))
        self._init_weights()

    @staticmethod
    def check_args(img_h=32, **_):
        """The constructor's own checks of its arguments, which check_model_args runs without building a model."""
        if img_h != 32:
            raise ValueError(f"CRNN needs img_h=32 (got {img_h}): the CNN reduces height 32 to 1")

    def _init_weights(self):
        # The recipe's init: conv N(0, 0.02), BN weight N(1, 0.02), BN bias 0.
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, 0.0, 0.02)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.normal_(m.weight, 1.0, 0.02)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LSTM):
                # Forget-gate bias 1 (Jozefowicz et al., 2015): the BiLSTMs are what keeps CRNN on
                # the CTC plateau; measured here, it leaves the plateau sooner than the default init.
                for name, p in m.named_parameters():
                    if name.startswith("bias_ih"):
                        nn.init.zeros_(p)
                        p.data[m.hidden_size:2 * m.hidden_size] = 1.0
                    elif name.startswith("bias_hh"):
                        nn.init.zeros_(p)

    def forward(self, x):
        conv = self.cnn(x)                                # [B, 1, 32, W] -> [B, C, 1, T]
        conv = conv.squeeze(2).permute(2, 0, 1)           # [B, C, 1, T] -> [T, B, C]
        return self.rnn(conv.contiguous())                # [T, B, C] -> [T, B, num_classes]


# The arguments a run chooses, as main.py flags: name -> (lowest, highest, help). The others are fixed by the
# data (img_h 32, num_channels 1) or follow from the alphabet (num_classes).
SETTINGS = {"hidden_size": (1, 4096, "LSTM hidden units"),
            "cnn_width": (1, 512, "channels of the first conv (64 = the paper)")}


def default_args():
    """CRNN's constructor arguments with their defaults."""
    return {name: p.default for name, p in inspect.signature(CRNN.__init__).parameters.items() if name != "self"}


def check_model_args(args):
    """-> `args` if CRNN(**args) can be built (a checkpoint's model_args), else ValueError saying why."""
    if not isinstance(args, dict):
        raise ValueError(f"model_args is a {type(args).__name__}, not a dict")
    unknown = sorted(set(args) - set(default_args()))
    if unknown:
        raise ValueError(f"unknown model_args {', '.join(map(str, unknown))} (CRNN takes {', '.join(default_args())})")
    for name, value in args.items():
        lo, hi = SETTINGS.get(name, (1, 65536, ""))[:2]
        if not isinstance(value, int) or isinstance(value, bool) or not lo <= value <= hi:
            raise ValueError(f"model_args {name}={value!r} is not an integer in {lo}..{hi}")
    # Not a model on the meta device: its weight init there imports torch._dynamo, 1.7 s of every reader's start.
    CRNN.check_args(**args)
    return args


def output_length(img_w):
    """Time steps the CNN emits for an input of width `img_w`."""
    return img_w // 4 + 1
