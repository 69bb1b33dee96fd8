"""A CIFAR-10 ResNet training script in the shape of the PyTorch tutorials (kuangliu's
pytorch-cifar main.py with the CIFAR ResNet-20 of He et al. 2016, section 4.2), run by
scratchnet with only the imports changed: BasicBlock/ResNet modules with BatchNorm and
shortcut Sequentials, kaiming_normal_ init, nn.CrossEntropyLoss, SGD with momentum and
weight decay, CosineAnnealingLR, outputs.max(1), a checkpoint dict through torch.save and
torch.load (--resume).

    python examples/torch_cifar_resnet.py               # 5 epochs on synthetic 32x32 images
    python examples/torch_cifar_resnet.py --smoke       # 64 images, 1 epoch (the tests' run)

The images are synthetic (class templates plus noise, ``scratchnet.data.synthetic``), served
as torchvision's CIFAR10 serves its pictures: (32, 32, 3) uint8 arrays that the transform
turns into tensors; no CIFAR-10 download is needed. The net has 0.27 M parameters; on 2 CPU
cores a step at batch 128 takes about a second. tests/test_torch_examples.py also runs this
file under PyTorch with the import block swapped.
"""
import argparse
import os

from scratchnet.data import synthetic

# --- the lines that differ from the PyTorch script (torch, torchvision) ---
import scratchnet as torch
import scratchnet.nn as nn
import scratchnet.nn.functional as F
import scratchnet.optim as optim
from scratchnet.data import transforms
from scratchnet.nn import init
from scratchnet.utils.data import DataLoader, Dataset
# ---


class SyntheticCIFAR(Dataset):
    """(image, label) pairs shaped like CIFAR-10's: 32x32 RGB uint8 images (H, W, C)."""

    def __init__(self, train=True, transform=None, size=None):
        data = synthetic(train, num_samples=size, image_size=(3, 32, 32))
        self.images = data.images.transpose(0, 2, 3, 1)          # (N, C, H, W) -> (N, H, W, C)
        self.labels = data.labels
        self.transform = transform

    def __getitem__(self, index):
        image, label = self.images[index], int(self.labels[index])
        if self.transform is not None:
            image = self.transform(image)
        return image, label

    def __len__(self):
        return len(self.labels)


def _weights_init(m):
    if isinstance(m, nn.Linear) or isinstance(m, nn.Conv2d):
        init.kaiming_normal_(m.weight)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, in_planes, planes, stride=1):
        super(BasicBlock, self).__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, kernel_size=3, stride=stride, padding=1,
                               bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)

        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, self.expansion * planes, kernel_size=1, stride=stride,
                          bias=False),
                nn.BatchNorm2d(self.expansion * planes)
            )

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out += self.shortcut(x)
        out = F.relu(out)
        return out


class ResNet(nn.Module):
    def __init__(self, block, num_blocks, num_classes=10):
        super(ResNet, self).__init__()
        self.in_planes = 16

        self.conv1 = nn.Conv2d(3, 16, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        self.layer1 = self._make_layer(block, 16, num_blocks[0], stride=1)
        self.layer2 = self._make_layer(block, 32, num_blocks[1], stride=2)
        self.layer3 = self._make_layer(block, 64, num_blocks[2], stride=2)
        self.linear = nn.Linear(64, num_classes)

        self.apply(_weights_init)

    def _make_layer(self, block, planes, num_blocks, stride):
        strides = [stride] + [1] * (num_blocks - 1)
        layers = []
        for stride in strides:
            layers.append(block(self.in_planes, planes, stride))
            self.in_planes = planes * block.expansion

        return nn.Sequential(*layers)

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.layer1(out)
        out = self.layer2(out)
        out = self.layer3(out)
        out = F.avg_pool2d(out, out.size()[3])
        out = out.view(out.size(0), -1)
        out = self.linear(out)
        return out


def resnet20():
    return ResNet(BasicBlock, [3, 3, 3])


def train(net, trainloader, criterion, optimizer, device, epoch):
    print('\nEpoch: %d' % epoch)
    net.train()
    train_loss = 0
    correct = 0
    total = 0
    for batch_idx, (inputs, targets) in enumerate(trainloader):
        inputs, targets = inputs.to(device), targets.to(device)
        optimizer.zero_grad()
        outputs = net(inputs)
        loss = criterion(outputs, targets)
        loss.backward()
        optimizer.step()

        train_loss += loss.item()
        _, predicted = outputs.max(1)
        total += targets.size(0)
        correct += predicted.eq(targets).sum().item()
    print('train  loss: %.3f | acc: %.3f%% (%d/%d)'
          % (train_loss / (batch_idx + 1), 100. * correct / total, correct, total))


def test(net, testloader, criterion, device, epoch, best_acc, checkpoint_dir):
    net.eval()
    test_loss = 0
    correct = 0
    total = 0
    with torch.no_grad():
        for batch_idx, (inputs, targets) in enumerate(testloader):
            inputs, targets = inputs.to(device), targets.to(device)
            outputs = net(inputs)
            loss = criterion(outputs, targets)

            test_loss += loss.item()
            _, predicted = outputs.max(1)
            total += targets.size(0)
            correct += predicted.eq(targets).sum().item()
    print('test   loss: %.3f | acc: %.3f%% (%d/%d)'
          % (test_loss / (batch_idx + 1), 100. * correct / total, correct, total))

    # Save checkpoint.
    acc = 100. * correct / total
    if acc > best_acc:
        print('Saving..')
        state = {
            'net': net.state_dict(),
            'acc': acc,
            'epoch': epoch,
        }
        os.makedirs(checkpoint_dir, exist_ok=True)
        torch.save(state, os.path.join(checkpoint_dir, 'ckpt.pth'))
        best_acc = acc
    return best_acc


def main(argv=None):
    parser = argparse.ArgumentParser(description='PyTorch CIFAR10 Training')
    parser.add_argument('--lr', default=0.1, type=float, help='learning rate')
    parser.add_argument('--epochs', default=5, type=int, help='epochs to train')
    parser.add_argument('--batch-size', default=128, type=int, help='training batch size')
    parser.add_argument('--resume', '-r', action='store_true',
                        help='resume from checkpoint')
    parser.add_argument('--smoke', action='store_true',
                        help='64 training and 32 test images, 1 epoch')
    parser.add_argument('--out', default='.', help='folder of checkpoint/ (default: .)')
    args = parser.parse_args(argv)
    train_size, test_size = (64, 32) if args.smoke else (2000, 500)
    if args.smoke:
        args.epochs, args.batch_size = 1, 32

    device = 'cuda' if torch.cuda.is_available() else 'cpu'
    torch.manual_seed(0)
    best_acc = 0  # best test accuracy
    start_epoch = 0  # start from epoch 0 or last checkpoint epoch
    checkpoint_dir = os.path.join(args.out, 'checkpoint')

    # Data
    print('==> Preparing data..')
    transform_train = transforms.Compose([
        transforms.ToTensor(),
        transforms.Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
    ])
    transform_test = transforms.Compose([
        transforms.ToTensor(),
        transforms.Normalize((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
    ])
    trainset = SyntheticCIFAR(train=True, transform=transform_train, size=train_size)
    trainloader = DataLoader(trainset, batch_size=args.batch_size, shuffle=True, num_workers=0)
    testset = SyntheticCIFAR(train=False, transform=transform_test, size=test_size)
    testloader = DataLoader(testset, batch_size=100, shuffle=False, num_workers=0)

    # Model
    print('==> Building model..')
    net = resnet20()
    net = net.to(device)
    print('%d parameters' % sum(p.numel() for p in net.parameters()))

    if args.resume:
        # Load checkpoint.
        print('==> Resuming from checkpoint..')
        checkpoint = torch.load(os.path.join(checkpoint_dir, 'ckpt.pth'))
        net.load_state_dict(checkpoint['net'])
        best_acc = checkpoint['acc']
        start_epoch = checkpoint['epoch'] + 1

    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=args.lr, momentum=0.9, weight_decay=5e-4)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs)

    for epoch in range(start_epoch, start_epoch + args.epochs):
        train(net, trainloader, criterion, optimizer, device, epoch)
        best_acc = test(net, testloader, criterion, device, epoch, best_acc, checkpoint_dir)
        scheduler.step()
    return best_acc


if __name__ == '__main__':
    main()
