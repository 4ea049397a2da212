package example;

import java.util.List;

public class Order {
    public String customer;
    private List<Item> items;
    private boolean express;

    public List<Item> getItems() { return items; }
    public void setItems(List<Item> items) { this.items = items; }
    public boolean isExpress() { return express; }
    public void setExpress(boolean express) { this.express = express; }

    public static class Item {
        public String sku;
        public int quantity;
        public double price;
    }
}
