package example;

public class Receipt {
    private final String customer;
    private final double total;
    private final boolean express;

    Receipt(String customer, double total, boolean express) {
        this.customer = customer;
        this.total = total;
        this.express = express;
    }

    public String getCustomer() { return customer; }
    public double getTotal() { return total; }
    public boolean isExpress() { return express; }
}
