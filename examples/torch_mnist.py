"""pytorch/examples' MNIST script (mnist/main.py), run by scratchnet with only the imports
changed: the same Net, train() and test(), Adadelta with StepLR, a Dataset and DataLoader
with a worker process, torch.no_grad(), argmax/eq/view_as, torch.save.

    python examples/torch_mnist.py                  # 14 epochs on the bundled digits
    python examples/torch_mnist.py --epochs 1 --dry-run
    python examples/torch_mnist.py --smoke          # a few batches (the test suite's run)

Two things differ from pytorch/examples, neither a framework call: the data are the 5,000
digits bundled with scratchnet (4,000 train / 1,000 held out), read by the small Dataset
below instead of torchvision's MNIST download, and main() takes argv, --smoke and --out
(the conventions of scratchnet's examples). tests/test_torch_examples.py runs this very
file under PyTorch too, with the import block swapped, which shows the rest is torch code.
"""
import argparse
import os

from scratchnet.data import mnist_5k_split

# --- the lines that differ from the PyTorch script (torch, torchvision) ---
import scratchnet as torch
import scratchnet.nn as nn
import scratchnet.nn.functional as F
import scratchnet.optim as optim
from scratchnet.data import transforms
from scratchnet.optim.lr_scheduler import StepLR
from scratchnet.utils.data import Dataset
# ---


class BundledMNIST(Dataset):
    """The bundled digits as torchvision's MNIST serves them: (image, label), the image a
    28x28 uint8 array that ``transform`` turns into a tensor."""

    def __init__(self, train=True, transform=None, limit=None):
        (x, y), (x_test, y_test) = mnist_5k_split()
        self.images, self.labels = (x, y) if train else (x_test, y_test)
        if limit is not None:          # a spread of digits, not the first (sorted) ones
            keep = list(range(0, len(self.labels), max(1, len(self.labels) // limit)))[:limit]
            self.images, self.labels = self.images[keep], self.labels[keep]
        self.transform = transform

    def __getitem__(self, index):
        image, label = self.images[index], int(self.labels[index])
        if self.transform is not None:
            image = self.transform(image)
        return image, label

    def __len__(self):
        return len(self.labels)


class Net(nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        output = F.log_softmax(x, dim=1)
        return output


def train(args, model, device, train_loader, optimizer, epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        if batch_idx % args.log_interval == 0:
            print('Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}'.format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                100. * batch_idx / len(train_loader), loss.item()))
            if args.dry_run:
                break


def test(model, device, test_loader):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction='sum').item()  # sum up batch loss
            pred = output.argmax(dim=1, keepdim=True)  # get the index of the max log-probability
            correct += pred.eq(target.view_as(pred)).sum().item()

    test_loss /= len(test_loader.dataset)

    print('\nTest set: Average loss: {:.4f}, Accuracy: {}/{} ({:.0f}%)\n'.format(
        test_loss, correct, len(test_loader.dataset),
        100. * correct / len(test_loader.dataset)))
    return test_loss, correct


def main(argv=None):
    # Training settings
    parser = argparse.ArgumentParser(description='PyTorch MNIST Example')
    parser.add_argument('--batch-size', type=int, default=64, metavar='N',
                        help='input batch size for training (default: 64)')
    parser.add_argument('--test-batch-size', type=int, default=1000, metavar='N',
                        help='input batch size for testing (default: 1000)')
    parser.add_argument('--epochs', type=int, default=14, metavar='N',
                        help='number of epochs to train (default: 14)')
    parser.add_argument('--lr', type=float, default=1.0, metavar='LR',
                        help='learning rate (default: 1.0)')
    parser.add_argument('--gamma', type=float, default=0.7, metavar='M',
                        help='Learning rate step gamma (default: 0.7)')
    parser.add_argument('--no-accel', action='store_true',
                        help='disables accelerator')
    parser.add_argument('--dry-run', action='store_true',
                        help='quickly check a single pass')
    parser.add_argument('--seed', type=int, default=1, metavar='S',
                        help='random seed (default: 1)')
    parser.add_argument('--log-interval', type=int, default=10, metavar='N',
                        help='how many batches to wait before logging training status')
    parser.add_argument('--num-workers', type=int, default=1, metavar='N',
                        help='DataLoader worker processes (default: 1)')
    parser.add_argument('--save-model', action='store_true',
                        help='For Saving the current Model')
    parser.add_argument('--smoke', action='store_true',
                        help='256 training and 200 test digits, 1 epoch, model saved')
    parser.add_argument('--out', default='.', help='folder for mnist_cnn.pt (default: .)')
    args = parser.parse_args(argv)
    train_limit = test_limit = None
    if args.smoke:
        args.epochs, args.test_batch_size, args.save_model = 1, 100, True
        train_limit, test_limit = 256, 200

    use_accel = not args.no_accel and torch.accelerator.is_available()

    torch.manual_seed(args.seed)

    if use_accel:
        device = torch.accelerator.current_accelerator()
    else:
        device = torch.device("cpu")

    train_kwargs = {'batch_size': args.batch_size, 'shuffle': True}
    test_kwargs = {'batch_size': args.test_batch_size}
    if args.num_workers > 0:
        worker_kwargs = {'num_workers': args.num_workers, 'persistent_workers': True}
        train_kwargs.update(worker_kwargs)
        test_kwargs.update(worker_kwargs)

    transform = transforms.Compose([
        transforms.ToTensor(),
        transforms.Normalize((0.1307,), (0.3081,))
        ])
    dataset1 = BundledMNIST(train=True, transform=transform, limit=train_limit)
    dataset2 = BundledMNIST(train=False, transform=transform, limit=test_limit)
    train_loader = torch.utils.data.DataLoader(dataset1, **train_kwargs)
    test_loader = torch.utils.data.DataLoader(dataset2, **test_kwargs)

    model = Net().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)

    scheduler = StepLR(optimizer, step_size=1, gamma=args.gamma)
    for epoch in range(1, args.epochs + 1):
        train(args, model, device, train_loader, optimizer, epoch)
        result = test(model, device, test_loader)
        scheduler.step()

    if args.save_model:
        os.makedirs(args.out, exist_ok=True)
        torch.save(model.state_dict(), os.path.join(args.out, "mnist_cnn.pt"))
    return result


if __name__ == '__main__':
    main()
